"""Where a call's time goes, in-process: `python -m bench.profile [/bindings|/oauth2/connect] [--calls N] [--html FILE]`.

Calls the app's WSGI callable directly (no server, no test client overhead) with the exact body and headers the
bench loads, times it beside the least correct handler and bare Flask serving the same bytes (bench/bare_app.py),
and profiles it with pyinstrument.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.test import EnvironBuilder

from app import create_app
from settings import Settings

from .bare_app import create_bare_app, create_least_correct_app
from .workload import APP_SECRET, Call, Workload

SITE = "http://127.0.0.1:9"  # never contacted by /bindings or /oauth2/connect


def settings() -> Settings:
    return Settings(
        app_secret=APP_SECRET,
        oauth2_authorize_url=SITE + "/authorize",
        oauth2_token_url=SITE + "/token",
        oauth2_revoke_url=SITE + "/revoke",
        oauth2_userinfo_url=SITE + "/userinfo",
    )


def caller(app: Flask, call: Call) -> Callable[[], bytes]:
    environ = EnvironBuilder(
        path=call.path, method="POST", data=call.body.encode(), headers=list(call.headers.items())
    ).get_environ()

    def start_response(status: str, headers: Any, exc_info: Any = None, /) -> Callable[[bytes], object]:
        if not status.startswith("200"):
            raise RuntimeError(status)
        return lambda _data: None

    def once() -> bytes:
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO(call.body.encode())
        result: Iterable[bytes] = app.wsgi_app(env, start_response)
        return b"".join(result)

    return once


def per_call_us(fn: Callable[[], bytes], calls: int) -> float:
    for _ in range(200):
        fn()
    start = time.thread_time()
    for _ in range(calls):
        fn()
    return (time.thread_time() - start) / calls * 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", nargs="?", default="/bindings", choices=["/bindings", "/oauth2/connect"])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--html", help="write pyinstrument's HTML report here")
    args = parser.parse_args()

    app = create_app(settings())
    work = Workload(app_url="http://127.0.0.1:8080", mattermost_url=SITE)
    call = work.bindings() if args.path == "/bindings" else work.oauth2_connect()
    app_call = caller(app, call)
    body = app_call()
    if b'"type":"ok"' not in body:
        print(f"not an ok CallResponse: {body[:300]!r}", file=sys.stderr)
        return 1
    bodies = {f"POST {call.path}": body.decode()}
    least_call = caller(create_least_correct_app(bodies, APP_SECRET), call)
    bare_call = caller(create_bare_app(bodies), call)
    app_us, least_us, bare_us = (per_call_us(fn, args.calls) for fn in (app_call, least_call, bare_call))
    print(
        f"{args.path}: app {app_us:.0f} µs/call, least-correct {least_us:.0f} µs/call, bare Flask {bare_us:.0f} µs/call; "
        f"app - least-correct = {app_us - least_us:.0f} µs"
    )

    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0001)
    with profiler:
        for _ in range(args.calls):
            app_call()
    if args.html:
        with open(args.html, "w", encoding="utf-8") as f:
            f.write(profiler.output_html())
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
