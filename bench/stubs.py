"""Loopback stand-ins for the provider (token, userinfo, revoke) and Mattermost, each `delay` away.

Each stub is a threaded HTTP/1.1 server (keep-alive, so the app's pooled connections are reused as in production)
that answers like the real service after `delay` seconds, the stand-in for the network and the service's own time.
Every request is logged on the bench's clock (`time.monotonic()`; the stubs run in the bench's process): when the
stub had read it, and when its delay was over and it began to answer. Every TCP connection it accepts is counted.
"""

from __future__ import annotations

import functools
import itertools
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

TOKEN_PATH, USERINFO_PATH, REVOKE_PATH = "/token", "/userinfo", "/revoke"
AUTHORIZE_PATH = "/authorize"  # never requested by the app: only part of the URL it builds
OAUTH2_USER_PATH = "/plugins/com.mattermost.apps/api/v1/oauth2/user"

# What a logged request is (`METHOD /path`, token requests with their grant type), and its short name.
SHORT_NAMES = {
    (EXCHANGE := f"POST {TOKEN_PATH} (authorization_code)"): "exchange",
    (REFRESH := f"POST {TOKEN_PATH} (refresh_token)"): "refresh",
    (USERINFO := f"GET {USERINFO_PATH}"): "userinfo",
    (REVOKE := f"POST {REVOKE_PATH}"): "revoke",
    (STORE := f"POST {OAUTH2_USER_PATH}"): "store",
    f"GET {OAUTH2_USER_PATH}": "re-read",
    (OPEN_DM := "POST /api/v4/channels/direct"): "open DM",
    (POST_DM := "POST /api/v4/posts"): "post DM",
}
IDENTITY = {"sub": "108700000000000000001", "email": "alice@example.com", "name": "Alice Bench"}

Answer = tuple[int, Any]  # (status, JSON body, or None for an empty body)


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def token(self) -> str:
        return self.headers.get("authorization", "").removeprefix("Bearer ")


@dataclass(frozen=True)
class Logged:
    """One request a stub served, and when (bench clock)."""

    stub: str
    kind: str
    status: int
    start: float  # the stub had read the request line and headers
    end: float  # the stub was done waiting and began to send its answer

    @property
    def name(self) -> str:
        return SHORT_NAMES.get(self.kind, self.kind)


class StubServer:
    """One service on 127.0.0.1 with a table of routes `(METHOD, path) -> handler`; `delay` can change at any time."""

    def __init__(self, name: str, routes: Mapping[tuple[str, str], Callable[[Request], Answer]], *, delay: float = 0.0) -> None:
        self.name, self.delay, self._routes = name, delay, routes
        self._lock = threading.Lock()
        self._requests: list[Logged] = []
        self._accepted: list[float] = []
        self._in_flight, self._last_activity = 0, 0.0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name=f"stub-{self.name}", daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def requests_since(self, since: float) -> list[Logged]:
        with self._lock:
            return [r for r in self._requests if r.start >= since]

    def connections_since(self, since: float) -> int:
        with self._lock:
            return sum(1 for at in self._accepted if at >= since)

    def idle_since(self) -> float | None:
        """When the stub last did anything, or None while a request is in flight."""
        with self._lock:
            return None if self._in_flight else self._last_activity

    def _note(self, event: str, done: Logged | None = None) -> None:
        """`accepted` a connection, `started` a request, or `done` with it."""
        with self._lock:
            self._last_activity = time.monotonic()
            if event == "accepted":
                self._accepted.append(self._last_activity)
            self._in_flight += {"started": 1, "done": -1}.get(event, 0)
            if done is not None:
                self._requests.append(done)


def _handler_class(stub: StubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive
        disable_nagle_algorithm = True  # headers and body are two writes; Nagle would delay the second

        def setup(self) -> None:
            super().setup()
            stub._note("accepted")

        def _serve(self) -> None:
            start = time.monotonic()
            stub._note("started")
            kind, status, end = f"{self.command} {self.path}", 500, 0.0
            try:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = Request(urlsplit(self.path).path, {k.lower(): v for k, v in self.headers.items()}, body)
                grant = f" ({request.form()['grant_type']})" if request.path == TOKEN_PATH else ""
                kind = f"{self.command} {request.path}{grant}"
                status, payload = stub._routes.get((self.command, request.path), lambda _request: (404, None))(request)
                time.sleep(stub.delay)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                # Read before the first byte leaves: the app cannot have the answer earlier, however long this
                # thread then waits for the GIL behind the bench's other threads.
                end = time.monotonic()
                self.end_headers()
                self.wfile.write(data)
            finally:
                stub._note("done", Logged(stub.name, kind, status, start, end or time.monotonic()))

        do_GET = do_POST = do_DELETE = _serve  # noqa: N815 - http.server's naming

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


class ProviderStub(StubServer):
    """An OAuth2 provider's token, userinfo and revoke endpoints. Like Google (`plain=False`), token answers carry an
    ID token (RS256, `iss` this stub's URL, `aud` the client id) and a refresh answers no refresh token. A plain
    OAuth2 provider sends no ID token (the app must ask userinfo) and rotates: a refresh answers a new refresh token
    and spends the old one. `expires_in`: the access tokens' lifetime; under a minute, they are stale."""

    def __init__(self, *, client_id: str, plain: bool, delay: float = 0.0) -> None:
        self.client_id, self.rotate, self.id_token, self.expires_in = client_id, plain, not plain, 3599
        self._numbers = itertools.count(1)
        self._spent: set[str] = set()
        routes = {
            ("POST", TOKEN_PATH): self._token,
            ("GET", USERINFO_PATH): lambda _request: (200, IDENTITY),
            ("POST", REVOKE_PATH): lambda request: (200 if request.form().get("token") else 400, None),
        }
        super().__init__("provider (plain OAuth2)" if plain else "provider", routes, delay=delay)

    def make_id_token(self) -> str:
        now = int(time.time())
        claims = {"iss": self.url, "azp": self.client_id, "aud": self.client_id, "iat": now, "exp": now + 3600}
        return jwt.encode(claims | IDENTITY | {"email_verified": True}, _signing_key(), algorithm="RS256")

    def _token(self, request: Request) -> Answer:
        form = request.form()
        n, grant = next(self._numbers), form.get("grant_type")
        answer: dict[str, Any] = {"expires_in": self.expires_in, "token_type": "Bearer", "scope": "openid email profile"}
        if grant == "authorization_code" and form.get("code") and form.get("code_verifier"):
            answer |= {"access_token": f"ya29.bench-access-{n}", "refresh_token": f"1//bench-refresh-{n}"}
        elif grant == "refresh_token":
            with self._lock:
                if form.get("refresh_token", "") in self._spent | {""}:
                    return 400, {"error": "invalid_grant"}
                if self.rotate:
                    self._spent.add(form["refresh_token"])
                    answer["refresh_token"] = f"1//bench-rotated-{n}"
            answer["access_token"] = f"ya29.bench-refreshed-{n}"
        else:
            return 400, {"error": "invalid_request"}
        return 200, answer | ({"id_token": self.make_id_token()} if self.id_token else {})


@functools.cache
def _signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class MattermostStub(StubServer):
    """The Apps plugin's `/oauth2/user` (store and read, per acting user token) and the two calls of a direct message."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self._stored: dict[str, Any] = {}
        created = {"id": "benchbenchbenchbenchbench1"}
        routes = {
            ("POST", OAUTH2_USER_PATH): self._store_user,
            ("GET", OAUTH2_USER_PATH): lambda request: (200, self.stored(request.token())),
            ("POST", OPEN_DM.split(" ")[1]): lambda request: (201, created),
            ("POST", POST_DM.split(" ")[1]): lambda request: (201, created),
        }
        super().__init__("mattermost", routes, delay=delay)

    def stored(self, token: str) -> Any:
        """What Mattermost holds for the user of `token`, as the plugin would send it in a call's context."""
        with self._lock:
            return self._stored.get(token)

    def _store_user(self, request: Request) -> Answer:
        with self._lock:
            self._stored[request.token()] = json.loads(request.body or b"null")
        return 200, None
