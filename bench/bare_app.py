"""The two baselines, each answering on the app's paths the app's exact answers.

- `app`, *bare Flask*: the idiomatic minimal endpoint, `return jsonify(ANSWER)`, with ANSWER the app's answer
  parsed once at start. No JWT, no reading of the call: what Flask and gunicorn cost to answer that JSON.
- `least_correct`, *the least correct handler*: what any App must do before it may answer a call. It verifies
  the call's JWT with PyJWT (HS256, `exp` required) and parses the CallRequest JSON, then returns the same
  answer. The app cannot do less than this and be correct, so the app / least-correct ratio is the honest view
  of what the app's own work costs.

`gunicorn bench.bare_app:app` (or `bench.bare_app:least_correct`) from the repository root, so it reads the
same gunicorn.conf.py. The answers come from the JSON file named by BENCH_BARE_BODIES:
`{"POST /bindings": "<body>", "GET /manifest.json": ...}`; the JWT secret from BENCH_JWT_SECRET.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from flask import Flask, Response, jsonify, request

JWT_HEADER = "Mattermost-App-Authorization"


def create_bare_app(bodies: dict[str, str]) -> Flask:
    return _answering(bodies, lambda answer: lambda: jsonify(answer))


def create_least_correct_app(bodies: dict[str, str], secret: str) -> Flask:
    def view_for(answer: Any) -> Callable[[], Response]:
        def view() -> Response:
            if request.method == "POST":
                token = request.headers.get(JWT_HEADER, "").removeprefix("Bearer ")
                jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp"]})
                json.loads(request.get_data())
            return jsonify(answer)

        return view

    return _answering(bodies, view_for)


def _answering(bodies: dict[str, str], view_for: Callable[[Any], Callable[[], Response]]) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # as the app: keys in the order they were built
    for route, body in bodies.items():
        method, path = route.split(" ", 1)
        app.add_url_rule(path, endpoint=route, view_func=view_for(json.loads(body)), methods=[method])
    return app


def _bodies() -> dict[str, str]:
    return json.loads(Path(os.environ["BENCH_BARE_BODIES"]).read_text(encoding="utf-8"))


def __getattr__(name: str) -> Any:
    """`app` and `least_correct`, built on first access (as app.py does), so importing the factories needs no
    environment."""
    if name == "app":
        return create_bare_app(_bodies())
    if name == "least_correct":
        return create_least_correct_app(_bodies(), os.environ["BENCH_JWT_SECRET"])
    raise AttributeError(name)
