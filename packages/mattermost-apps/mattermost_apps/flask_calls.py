"""Flask glue for an HTTP App: every call route answers HTTP 200 with a CallResponse, whatever happens.

`CallRouter[Services]` collects call handlers `fn(call, services) -> CallResponse`, `services` being what the app
hands every handler (its collaborators; `None` when it has none). `install(app, ...)` registers them as
`POST <path>` views that check, before the handler runs, the JWT, the body limit and the CallRequest's shape, and
turn any failure into `{"type": "error", "text": explain(exc)}` with HTTP 200: the plugin shows a non-200 answer
as its raw body. Only the call routes get that treatment; the app's GET routes (and unknown
paths) keep Flask's real HTTP errors, so a broken health check fails.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from flask import Flask, Request, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from .calls import BadCallRequest, CallRequest, CallResponse, error
from .http import call_deadline
from .jwt_auth import HEADER, JWTRejected, check_acting_user, verify_call_jwt

log = logging.getLogger(__name__)

MAX_CALL_BYTES = 64 * 1024
DEFAULT_DEADLINE = 25.0  # seconds; the plugin gives up on a call after 30
S = TypeVar("S")  # what the app hands every handler
Handler = Callable[[CallRequest, S], CallResponse]
Explain = Callable[[Exception], str]


_current_call: contextvars.ContextVar[CallRequest | None] = contextvars.ContextVar("mattermost_apps_call", default=None)


def current_call() -> CallRequest | None:
    """The call being handled, once it is checked and parsed (for what every handler would otherwise pass along,
    such as the user's locale); None outside one."""
    return _current_call.get()


_after_response: contextvars.ContextVar[list[Callable[[], None]] | None] = contextvars.ContextVar(
    "mattermost_apps_after_response", default=None
)


def after_response(task: Callable[[], None]) -> None:
    """Run `task` once this call's answer has been sent, under a deadline of its own: work the caller need not wait
    for (a confirmation message). Its failure is logged and touches nothing of the answer."""
    tasks = _after_response.get()
    if tasks is None:
        raise RuntimeError("after_response() is for a call handler")
    tasks.append(task)


class CallTooLarge(Exception):
    """The call's body is over `limit` bytes (reason `too_large`); nothing of it was parsed."""

    reason = "too_large"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the body is over {limit} bytes")


class CallRouter(Generic[S]):
    """Collects call handlers; `install` registers them on an app with the shared checks."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler[S]] = {}

    def add(self, path: str, fn: Handler[S]) -> None:
        if path in self.handlers:
            raise ValueError(f"two handlers for call path {path}")
        self.handlers[path] = fn

    def call(self, path: str) -> Callable[[Handler[S]], Handler[S]]:
        """Decorator: `fn` handles the calls to `path`, whatever they are (a command, a form's submit or source, a
        dynamic select's lookup): the plugin sends no call type, so each call gets a path of its own.

            @router.call("/hello/lookup")
            def hello_lookup(call: CallRequest, services: Any) -> CallResponse:
                return lookup(name for name in NAMES if name.startswith(call.query))
        """

        def register(fn: Handler[S]) -> Handler[S]:
            self.add(path, fn)
            return fn

        return register

    def install(
        self,
        app: Flask,
        *,
        jwt_secret: str | None,
        services: S,
        explain: Explain,
        max_body: int = MAX_CALL_BYTES,
        deadline: float = DEFAULT_DEADLINE,
    ) -> None:
        """Register every handler as `POST <path>`. `jwt_secret=None` turns the JWT check off (never in production).

        `explain(exc)` words a failure for the user: `JWTRejected`, `BadCallRequest` and `CallTooLarge` carry a
        `reason`; anything else is an unexpected error, logged here with its traceback. Everything a handler sends
        through the app's session (`http.new_session`) ends within `deadline` seconds of the call's arrival.
        """
        # One byte over the limit: werkzeug stops reading a chunked body (no Content-Length) at MAX_CONTENT_LENGTH
        # without an error, so a body that reads as longer than `max_body` is how an oversized stream shows.
        app.config["MAX_CONTENT_LENGTH"] = max_body + 1

        def call_error(exc: Exception) -> Response:
            if isinstance(exc, RequestEntityTooLarge):
                exc = CallTooLarge(max_body)
            if isinstance(exc, JWTRejected):
                log.warning("refused %s %s: %s", request.method, request.path, exc)
            elif isinstance(exc, BadCallRequest | CallTooLarge):
                log.info("bad call request on %s: %s", request.path, exc)
            else:
                log.exception("unhandled error in call %s", request.path)
            return jsonify(error(explain(exc)))

        def make_view(fn: Handler[S]) -> Callable[[], Response]:
            # Each call view answers its own failures (HTTP 200, a CallResponse); the app's other routes keep Flask's.
            def view() -> Response:
                tasks: list[Callable[[], None]] = []
                try:
                    with call_deadline(deadline):
                        call = _read_call(request, jwt_secret, max_body)
                        tokens = _current_call.set(call), _after_response.set(tasks)
                        try:
                            response = jsonify(fn(call, services))
                        finally:
                            _current_call.reset(tokens[0])
                            _after_response.reset(tokens[1])
                except Exception as exc:  # noqa: BLE001 - every failure of a call becomes its CallResponse
                    return call_error(exc)
                for task in tasks:
                    response.call_on_close(_guarded(task, deadline))
                return response

            return view

        for path, fn in self.handlers.items():
            app.add_url_rule(path, endpoint="call" + path.replace("/", "_"), view_func=make_view(fn), methods=["POST"])


def _guarded(task: Callable[[], None], deadline: float) -> Callable[[], None]:
    def run() -> None:
        try:
            with call_deadline(deadline):
                task()
        except Exception:
            log.exception("a task after the response failed")

    return run


def _read_call(req: Request, jwt_secret: str | None, max_body: int) -> CallRequest:
    claims: dict[str, Any] = {}
    if jwt_secret is not None:
        # The signature is checked before the body is parsed: an unsigned caller costs us no JSON work.
        claims = verify_call_jwt(req.headers.get(HEADER), jwt_secret)
    body = req.get_data(cache=False)  # over MAX_CONTENT_LENGTH by its Content-Length: RequestEntityTooLarge
    if len(body) > max_body:  # a chunked body: no Content-Length to check up front
        raise CallTooLarge(max_body)
    call = CallRequest.from_bytes(body)
    if jwt_secret is not None:
        check_acting_user(claims, call.context.acting_user_id)
    return call
