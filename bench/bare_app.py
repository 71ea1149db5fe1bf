"""The baseline: bare Flask answering, on the same paths, the app's exact answers, with no logic at all.

Each view is the idiomatic minimal Flask endpoint, `return jsonify(ANSWER)`, where ANSWER is the app's answer
parsed once at start: no JWT, no reading of the CallRequest, no handler. What this costs is what Flask and
gunicorn cost to answer that JSON; the bench checks that the bytes are the app's, byte for byte.

`gunicorn bench.bare_app:app` from the repository root (so it reads the same gunicorn.conf.py). The answers
come from the JSON file named by BENCH_BARE_BODIES: `{"POST /bindings": "<body>", "GET /manifest.json": ...}`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify


def create_bare_app(bodies: dict[str, str]) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # as the app: keys in the order they were built
    for route, body in bodies.items():
        method, path = route.split(" ", 1)
        app.add_url_rule(path, endpoint=route, view_func=_answer(json.loads(body)), methods=[method])
    return app


def _answer(answer: Any) -> Callable[[], Response]:
    def view() -> Response:
        return jsonify(answer)

    return view


def __getattr__(name: str) -> Any:
    """`app`, built on first access (as app.py does), so importing `create_bare_app` needs no BENCH_BARE_BODIES."""
    if name == "app":
        return create_bare_app(json.loads(Path(os.environ["BENCH_BARE_BODIES"]).read_text(encoding="utf-8")))
    raise AttributeError(name)
