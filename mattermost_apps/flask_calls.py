"""Flask glue for an HTTP App: every call route answers HTTP 200 with a CallResponse, whatever happens.

`CallRouter` registers call handlers `fn(call, services) -> CallResponse`; `install(app)` adds, for every
POST route, the body limit, the JWT check and the parse of the CallRequest before the handler runs, and one
error handler that turns any failure into `{"type": "error", "text": ...}` (the plugin shows a non-200
answer as its raw body, and a 500 page would show HTML).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Request, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .calls import BadCallRequest, CallRequest, CallResponse, error, quote_short
from .jwt_auth import HEADER, JWTRejected, check_acting_user, verify_call_jwt

log = logging.getLogger(__name__)

MAX_CALL_BYTES = 64 * 1024
MAX_BODY_CONFIG = "MATTERMOST_APPS_MAX_CALL_BYTES"
Handler = Callable[[CallRequest, Any], CallResponse]


class CallRouter:
    """Collects call handlers; `install` registers them on an app with the shared checks."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}

    def route(self, path: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            if path in self.handlers:
                raise ValueError(f"two handlers for call path {path}")
            self.handlers[path] = fn
            return fn

        return register

    def install(self, app: Flask, *, jwt_secret: str | None, services: Any, max_body: int = MAX_CALL_BYTES) -> None:
        """Register every handler as `POST <path>`. `jwt_secret=None` turns the JWT check off (never in production)."""
        # One byte over the limit: werkzeug stops reading a chunked body (no Content-Length) at MAX_CONTENT_LENGTH
        # without an error, so a body that reads as longer than `max_body` is how an oversized stream shows.
        app.config["MAX_CONTENT_LENGTH"] = max_body + 1
        app.config[MAX_BODY_CONFIG] = max_body
        app.extensions["mattermost_apps.call_router"] = self

        def make_view(fn: Handler) -> Callable[[], Response]:
            def view() -> Response:
                call = _read_call(request._get_current_object(), jwt_secret, max_body)  # type: ignore[attr-defined]
                return jsonify(fn(call, services))

            view.__name__ = f"call_{fn.__module__}_{fn.__name__}".replace(".", "_")
            return view

        for path, fn in self.handlers.items():
            app.add_url_rule(path, view_func=make_view(fn), methods=["POST"])
        app.register_error_handler(Exception, _call_error_handler)


def _read_call(req: Request, jwt_secret: str | None, max_body: int) -> CallRequest:
    # `req` is the request object itself, not Flask's proxy: this runs on every call, and each proxy lookup costs.
    if req.content_length is not None and req.content_length > max_body:
        raise RequestEntityTooLarge()
    claims: dict[str, Any] = {}
    if jwt_secret is not None:
        # The signature is checked before the body is parsed: an unsigned caller costs us no JSON work.
        claims = verify_call_jwt(req.headers.get(HEADER), jwt_secret)
    body = req.get_data(cache=False)
    if len(body) > max_body:  # a chunked body: no Content-Length to check up front
        raise RequestEntityTooLarge()
    call = CallRequest.from_bytes(body)
    if jwt_secret is not None:
        check_acting_user(claims, call.context.acting_user_id)
    return call


def _call_error_handler(exc: Exception) -> tuple[Response, int] | Response | HTTPException:
    is_call = request.method == "POST"
    if isinstance(exc, HTTPException) and not is_call:
        return exc  # 404/405 on GET routes stay plain HTTP errors
    if isinstance(exc, JWTRejected):
        log.warning("refused %s %s: %s", request.method, request.path, exc)
        text = str(exc)
    elif isinstance(exc, BadCallRequest):
        log.info("bad call request on %s: %s", request.path, exc)
        text = str(exc)
    elif isinstance(exc, RequestEntityTooLarge):
        text = f"The request body is larger than {current_app.config[MAX_BODY_CONFIG] // 1024} KiB."
    elif isinstance(exc, HTTPException):
        text = f"The app has no call {quote_short(request.path)} ({exc.code})."
    else:
        log.exception("unhandled error in call %s", request.path)
        text = "The app failed unexpectedly while handling this command; the admin can find the reason in its log."
    return jsonify(error(text)), 200
