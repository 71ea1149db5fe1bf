"""Loopback stand-ins for the provider (token, userinfo, revoke), Google's Calendar API and Mattermost.

Each stub is a small threaded HTTP/1.1 server (keep-alive, so the app's pooled connections are reused as they
would be in production) that answers like the real service after a configurable delay, the stand-in for the
network and the service's own time. Every request is logged with the bench's clock (`time.monotonic()`, the
stubs run in the bench's process): when the stub had read it, and when it had written the whole answer. Every
TCP connection the stub accepts is counted. The bench reads those logs to find the app's round trips.

`python -m bench.stubs` serves one stub with no delay in a process of its own (`GET /ping`), prints its URL,
and stops when its standard input closes: the target of the per-request overhead measurement.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

APPS_API = "/plugins/com.mattermost.apps/api/v1"
TOKEN_PATH = "/token"
USERINFO_PATH = "/userinfo"
REVOKE_PATH = "/revoke"
AUTHORIZE_PATH = "/authorize"  # never requested by the app: only part of the URL it builds
CALENDAR_PATH = "/calendar/v3"
EVENTS_PATH = CALENDAR_PATH + "/calendars/primary/events"
OAUTH2_USER_PATH = APPS_API + "/oauth2/user"
DIRECT_CHANNEL_PATH = "/api/v4/channels/direct"
POSTS_PATH = "/api/v4/posts"

# What a logged request is, by `METHOD /path` (token requests also by grant type), and its short name.
EXCHANGE = f"POST {TOKEN_PATH} (authorization_code)"
REFRESH = f"POST {TOKEN_PATH} (refresh_token)"
USERINFO = f"GET {USERINFO_PATH}"
REVOKE = f"POST {REVOKE_PATH}"
EVENTS = f"GET {EVENTS_PATH}"
STORE = f"POST {OAUTH2_USER_PATH}"
READ = f"GET {OAUTH2_USER_PATH}"
OPEN_DM = f"POST {DIRECT_CHANNEL_PATH}"
POST_DM = f"POST {POSTS_PATH}"
SHORT_NAMES = {
    EXCHANGE: "exchange",
    REFRESH: "refresh",
    USERINFO: "userinfo",
    REVOKE: "revoke",
    EVENTS: "events API",
    STORE: "store",
    READ: "re-read",
    OPEN_DM: "open DM",
    POST_DM: "post DM",
}

IDENTITY = {"sub": "108700000000000000001", "email": "alice@example.com", "name": "Alice Bench"}

# (status, JSON body or None for an empty body)
Answer = tuple[int, Any]
Route = Callable[["Request"], Answer]


def short_name(kind: str) -> str:
    return SHORT_NAMES.get(kind, kind)


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

    def basic_user(self) -> str:
        scheme, _, encoded = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return ""
        try:
            return base64.b64decode(encoded).decode().partition(":")[0]
        except ValueError:
            return ""


@dataclass(frozen=True)
class Logged:
    """One request a stub served: what it was, on which of the stub's connections, and when (bench clock)."""

    stub: str
    kind: str  # METHOD /path, token requests with their grant type
    status: int
    connection: int  # the stub's own number for the TCP connection it came on, from 1
    start: float  # the stub had read the request line and headers
    end: float  # the stub was done waiting and began to send its answer

    @property
    def name(self) -> str:
        return short_name(self.kind)


class RequestLog:
    """Thread-safe log of the requests and the accepted connections of one stub."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Logged] = []
        self._accepted: list[float] = []
        self._in_flight = 0
        self._last_activity = 0.0

    def accepted(self) -> int:
        """Note a new TCP connection; its number, from 1."""
        with self._lock:
            self._accepted.append(time.monotonic())
            self._last_activity = time.monotonic()
            return len(self._accepted)

    def started(self) -> float:
        now = time.monotonic()
        with self._lock:
            self._in_flight += 1
            self._last_activity = now
        return now

    def finished(self, entry: Logged) -> None:
        with self._lock:
            self._in_flight -= 1
            self._requests.append(entry)
            self._last_activity = entry.end

    def requests_since(self, since: float) -> list[Logged]:
        with self._lock:
            return [r for r in self._requests if r.start >= since]

    def connections_since(self, since: float) -> int:
        with self._lock:
            return sum(1 for at in self._accepted if at >= since)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._accepted)

    def idle_since(self) -> float | None:
        """When the stub last did anything, or None while a request is in flight."""
        with self._lock:
            return None if self._in_flight else self._last_activity


class StubServer:
    """One service on 127.0.0.1 with a fixed table of routes `(METHOD, path) -> handler`.

    `delay` (seconds) is slept between reading a request and answering it; it can be changed at any time.
    """

    def __init__(self, name: str, routes: dict[tuple[str, str], Route], *, delay: float = 0.0) -> None:
        self.name = name
        self.delay = delay
        self.log = RequestLog()
        self._routes = routes
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._serve_forever, name=f"stub-{name}", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]  # an IPv4 server: (str, int)
        return f"http://{host!s}:{port}"

    def _serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.05)  # how soon stop() returns

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def kind_of(self, request: Request) -> str:
        kind = f"{request.method} {request.path}"
        if request.path == TOKEN_PATH and request.method == "POST":
            kind += f" ({request.form().get('grant_type', '?')})"
        return kind

    def answer(self, request: Request) -> Answer:
        route = self._routes.get((request.method, request.path))
        if route is None:
            return 404, {"error": "not_found", "path": request.path}
        return route(request)


def _handler_class(stub: StubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive
        disable_nagle_algorithm = True  # headers and body are two writes; Nagle would delay the second

        def setup(self) -> None:
            super().setup()
            self.connection_number = stub.log.accepted()

        def _serve(self) -> None:
            start = stub.log.started()
            kind, status, end = f"{self.command} {self.path}", 500, 0.0
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(
                    self.command, parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()}, body
                )
                kind = stub.kind_of(request)
                status, payload = stub.answer(request)
                if stub.delay > 0:
                    time.sleep(stub.delay)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if self.close_connection:  # the client asked for it: say so, as real servers do
                    self.send_header("Connection", "close")
                # `end` is read before the first byte of the answer leaves: the app cannot have the answer earlier,
                # however long this thread then waits for the GIL behind the bench's other threads.
                end = time.monotonic()
                self.end_headers()
                self.wfile.write(data)
            finally:
                stub.log.finished(Logged(stub.name, kind, status, self.connection_number, start, end or time.monotonic()))

        do_GET = do_POST = do_DELETE = _serve  # noqa: N815 - http.server's naming

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# -- the provider -----------------------------------------------------------------------------------


class ProviderStub(StubServer):
    """Token, userinfo and revoke endpoints of an OAuth2 / OpenID Connect provider.

    `rotate`: a refresh answers a new refresh token and the old one is spent (a replay is `invalid_grant`);
    without it, as Google, a refresh answers no refresh token and the one the app holds stays valid.
    `id_token`: token answers carry an ID token as Google's do (RS256 with a key made at start, `iss` this
    stub's base URL, `aud` the client id), or none, so the app must ask userinfo who the user is.
    """

    def __init__(self, *, client_id: str, client_secret: str, rotate: bool, id_token: bool = True, delay: float = 0.0) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.rotate = rotate
        self.id_token = id_token
        self._numbers = itertools.count(1)
        self._spent: set[str] = set()
        self._lock = threading.Lock()
        self.last_refresh_token = ""
        name = "provider (rotating)" if rotate else "provider"
        super().__init__(
            name,
            {("POST", TOKEN_PATH): self._token, ("GET", USERINFO_PATH): self._userinfo, ("POST", REVOKE_PATH): self._revoke},
            delay=delay,
        )

    @property
    def issuer(self) -> str:
        return self.url

    def make_id_token(self, *, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        claims = {
            "iss": self.issuer,
            "azp": self.client_id,
            "aud": self.client_id,
            "sub": IDENTITY["sub"],
            "email": IDENTITY["email"],
            "email_verified": True,
            "name": IDENTITY["name"],
            "iat": issued,
            "exp": issued + 3600,
        }
        return jwt.encode(claims, _signing_key(), algorithm="RS256", headers={"kid": "bench"})

    def _token(self, request: Request) -> Answer:
        form = request.form()
        if (request.basic_user() or form.get("client_id")) != self.client_id:
            return 401, {"error": "invalid_client"}
        grant = form.get("grant_type")
        with self._lock:
            n = next(self._numbers)
        # Every scope the app asks for, as Google answers a refresh (a refreshed record keeps what the grant allows).
        answer: dict[str, Any] = {
            "expires_in": 3599,
            "token_type": "Bearer",
            "scope": "openid email profile https://www.googleapis.com/auth/calendar.readonly",
        }
        if grant == "authorization_code":
            if not form.get("code") or not form.get("code_verifier"):
                return 400, {"error": "invalid_request"}
            answer |= {"access_token": f"ya29.bench-access-{n}", "refresh_token": f"1//bench-refresh-{n}"}
        elif grant == "refresh_token":
            refresh_token = form.get("refresh_token", "")
            with self._lock:
                if not refresh_token or refresh_token in self._spent:
                    return 400, {"error": "invalid_grant"}
                if self.rotate:
                    self._spent.add(refresh_token)
                    answer["refresh_token"] = self.last_refresh_token = f"1//bench-rotated-{n}"
            answer["access_token"] = f"ya29.bench-refreshed-{n}"
        else:
            return 400, {"error": "unsupported_grant_type"}
        if self.id_token:
            answer["id_token"] = self.make_id_token()
        return 200, answer

    def _userinfo(self, request: Request) -> Answer:
        if not request.bearer():
            return 401, {"error": "invalid_token"}
        return 200, IDENTITY

    def _revoke(self, request: Request) -> Answer:
        return (200, None) if request.form().get("token") else (400, {"error": "invalid_request"})


@functools.cache
def _signing_key() -> rsa.RSAPrivateKey:
    """One RSA key per process: making one takes a good part of a second."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# -- Google's Calendar API --------------------------------------------------------------------------

EVENT_SUMMARY = "Standup"


def calendar_stub(*, delay: float = 0.0) -> StubServer:
    def events(request: Request) -> Answer:
        if not request.bearer():
            return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}
        return 200, {
            "items": [
                {
                    "summary": EVENT_SUMMARY,
                    "status": "confirmed",
                    "start": {"dateTime": "2030-01-02T09:00:00Z"},
                    "end": {"dateTime": "2030-01-02T09:15:00Z"},
                    "htmlLink": "https://calendar.google.com/event?eid=1",
                }
            ]
        }

    return StubServer("calendar", {("GET", EVENTS_PATH): events}, delay=delay)


# -- Mattermost (the Apps plugin's REST API and /api/v4) ---------------------------------------------


class MattermostStub(StubServer):
    """`/oauth2/user` (store and read, per acting user token), and the two `/api/v4` calls of a direct message."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self._stored: dict[str, Any] = {}
        self._lock = threading.Lock()
        super().__init__(
            "mattermost",
            {
                ("POST", OAUTH2_USER_PATH): self._store_user,
                ("GET", OAUTH2_USER_PATH): self._read_user,
                ("POST", DIRECT_CHANNEL_PATH): self._direct_channel,
                ("POST", POSTS_PATH): self._post,
            },
            delay=delay,
        )

    def seed(self, token: str, record: Any) -> None:
        """What Mattermost holds for the user of `token`: the record the call's context carries."""
        with self._lock:
            self._stored[token] = record

    def stored(self, token: str) -> Any:
        with self._lock:
            return self._stored.get(token)

    def _store_user(self, request: Request) -> Answer:
        token = request.bearer()
        if not token:
            return 401, {"message": "unauthorized"}
        with self._lock:
            self._stored[token] = json.loads(request.body or b"null")
        return 200, None

    def _read_user(self, request: Request) -> Answer:
        with self._lock:
            return 200, self._stored.get(request.bearer())

    def _direct_channel(self, request: Request) -> Answer:
        ids = json.loads(request.body or b"[]")
        if not isinstance(ids, list) or len(ids) != 2 or not request.bearer():
            return 400, {"message": "bad request"}
        return 201, {"id": "dmchannelbenchbenchbench01", "type": "D"}

    def _post(self, request: Request) -> Answer:
        body = json.loads(request.body or b"{}")
        if not body.get("channel_id") or not body.get("message") or not request.bearer():
            return 400, {"message": "bad request"}
        return 201, {"id": "postbenchbenchbenchbench01", "channel_id": body["channel_id"]}


def ping_stub() -> StubServer:
    return StubServer("ping", {("GET", "/ping"): lambda _request: (200, {"ok": True})})


def main() -> None:
    """Serve `ping_stub()` until standard input closes (the parent exited or closed the pipe)."""
    stub = ping_stub().start()
    print(stub.url, flush=True)
    sys.stdin.read()
    stub.stop()


if __name__ == "__main__":
    main()
