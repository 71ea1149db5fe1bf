"""Loopback stand-ins for the provider (token, userinfo, revoke), Google's Calendar API and Mattermost.

Each stub is a small threaded HTTP/1.1 server (keep-alive, so the app's pooled connections are reused as they
would be in production) that answers like the real service and counts every request it receives by
`METHOD /path` in its own log. The bench reads those logs to count the app's round trips per operation.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

APPS_API = "/plugins/com.mattermost.apps/api/v1"
TOKEN_PATH = "/token"
USERINFO_PATH = "/userinfo"
REVOKE_PATH = "/revoke"
AUTHORIZE_PATH = "/authorize"  # never requested by the app: only part of the URL it builds
CALENDAR_PATH = "/calendar/v3"
EVENTS_PATH = CALENDAR_PATH + "/calendars/primary/events"
OAUTH2_USER_PATH = APPS_API + "/oauth2/user"

IDENTITY = {"sub": "108700000000000000001", "email": "alice@example.com", "name": "Alice Bench"}

# (status, JSON body or None for an empty body)
Answer = tuple[int, Any]
Route = Callable[["Request"], Answer]


class Request:
    def __init__(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def bearer(self) -> str:
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" else ""


class RequestLog:
    """Thread-safe count of requests by `METHOD /path` (token requests also by grant type)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class StubServer:
    """One service on 127.0.0.1 with a fixed table of routes `(METHOD, path) -> handler`."""

    def __init__(self, name: str, routes: dict[tuple[str, str], Route]) -> None:
        self.name = name
        self.log = RequestLog()
        self._routes = routes
        handler = _handler_class(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"stub-{name}", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, request: Request) -> Answer:
        key = f"{request.method} {request.path}"
        if request.path == TOKEN_PATH and request.method == "POST":
            key += f" ({request.form().get('grant_type', '?')})"
        self.log.add(key)
        route = self._routes.get((request.method, request.path))
        if route is None:
            return 404, {"error": "not_found", "path": request.path}
        return route(request)


def _handler_class(stub: StubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive
        disable_nagle_algorithm = True  # headers and body are two writes; Nagle would delay the second

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Request(
                self.command, parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()}, body
            )
            status, payload = stub.answer(request)
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve  # noqa: N815 - http.server's naming

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# -- the provider -----------------------------------------------------------------------------------


def provider_stub() -> StubServer:
    issued = Counter[str]()
    lock = threading.Lock()

    def next_id(kind: str) -> int:
        with lock:
            issued[kind] += 1
            return issued[kind]

    def token(request: Request) -> Answer:
        form = request.form()
        grant = form.get("grant_type")
        if grant == "authorization_code":
            if not form.get("code") or not form.get("code_verifier"):
                return 400, {"error": "invalid_request"}
            n = next_id("code")
            return 200, {
                "access_token": f"ya29.bench-access-{n}",
                "refresh_token": f"1//bench-refresh-{n}",
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": "openid email profile",
            }
        if grant == "refresh_token":
            if not form.get("refresh_token"):
                return 400, {"error": "invalid_request"}
            return 200, {"access_token": f"ya29.bench-refreshed-{next_id('refresh')}", "expires_in": 3599, "token_type": "Bearer"}
        return 400, {"error": "unsupported_grant_type"}

    def userinfo(request: Request) -> Answer:
        if not request.bearer():
            return 401, {"error": "invalid_token"}
        return 200, IDENTITY

    def revoke(request: Request) -> Answer:
        return (200, None) if request.form().get("token") else (400, {"error": "invalid_request"})

    return StubServer(
        "provider",
        {
            ("POST", TOKEN_PATH): token,
            ("GET", USERINFO_PATH): userinfo,
            ("POST", REVOKE_PATH): revoke,
        },
    )


# -- Google's Calendar API --------------------------------------------------------------------------


def calendar_stub() -> StubServer:
    def events(request: Request) -> Answer:
        if not request.bearer():
            return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}
        return 200, {
            "items": [
                {
                    "summary": "Standup",
                    "status": "confirmed",
                    "start": {"dateTime": "2030-01-02T09:00:00Z"},
                    "end": {"dateTime": "2030-01-02T09:15:00Z"},
                    "htmlLink": "https://calendar.google.com/event?eid=1",
                }
            ]
        }

    return StubServer("google-api", {("GET", EVENTS_PATH): events})


# -- Mattermost (the Apps plugin's REST API and /api/v4) ---------------------------------------------


def mattermost_stub() -> StubServer:
    stored: dict[str, Any] = {}
    lock = threading.Lock()

    def store_user(request: Request) -> Answer:
        token = request.bearer()
        if not token:
            return 401, {"message": "unauthorized"}
        with lock:
            stored[token] = json.loads(request.body or b"null")
        return 200, None

    def read_user(request: Request) -> Answer:  # the app must never need this: the record comes in the context
        with lock:
            return 200, stored.get(request.bearer())

    def direct_channel(request: Request) -> Answer:
        ids = json.loads(request.body or b"[]")
        if not isinstance(ids, list) or len(ids) != 2 or not request.bearer():
            return 400, {"message": "bad request"}
        return 201, {"id": "dmchannelbenchbenchbench01", "type": "D"}

    def post(request: Request) -> Answer:
        body = json.loads(request.body or b"{}")
        if not body.get("channel_id") or not body.get("message") or not request.bearer():
            return 400, {"message": "bad request"}
        return 201, {"id": "postbenchbenchbenchbench01", "channel_id": body["channel_id"]}

    return StubServer(
        "mattermost",
        {
            ("POST", OAUTH2_USER_PATH): store_user,
            ("GET", OAUTH2_USER_PATH): read_user,
            ("POST", "/api/v4/channels/direct"): direct_channel,
            ("POST", "/api/v4/posts"): post,
        },
    )
