"""Loopback stubs for the security tests: a tiny HTTP server, a Mattermost that stores `/oauth2/user`, and an
OAuth2 provider that rotates refresh tokens and revokes the whole grant when one is replayed (as oidc-provider
does with OP_ROTATE=1).

Real sockets, because `requests_mock` replaces the transport adapter and so cannot show urllib3's retries.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient

from mattermost_apps.testing import InstalledApp, call_headers
from provider import AppProvider, Identity
from user_tokens import TokenCipher, TokenRecord

APPS_API_PATH = "/plugins/com.mattermost.apps/api/v1"


@dataclass
class StubRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    @property
    def bearer(self) -> str:
        value = self.headers.get("authorization", "")
        return value[7:] if value.lower().startswith("bearer ") else ""


# (status, body) or (status, body, headers): a dict/list is sent as JSON, str/bytes as text
Answer = tuple[int, Any] | tuple[int, Any, dict[str, str]]
Route = Callable[[StubRequest], Answer]


class StubServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 and a free port; `routes[(method, path)]` answers, `hits` records."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.hits: list[StubRequest] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = StubRequest(
                    self.command,
                    parts.path,
                    {k: v[0] for k, v in parse_qs(parts.query).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with stub._lock:
                    stub.hits.append(request)
                route = stub.routes.get((self.command, parts.path))
                answer = route(request) if route else (404, "no such stub route")
                status, payload = answer[0], answer[1]
                extra_headers = answer[2] if len(answer) > 2 else {}
                if status == 0:  # drop the connection without answering
                    self.close_connection = True
                    return
                if isinstance(payload, dict | list) or payload is None:
                    data, ctype = json.dumps(payload).encode(), "application/json"
                else:
                    data = payload if isinstance(payload, bytes) else str(payload).encode()
                    ctype = "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra_headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - the names BaseHTTPRequestHandler looks up

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def route(self, method: str, path: str, answer: Route) -> None:
        self.routes[(method, path)] = answer

    def sequence(self, method: str, path: str, *answers: Answer) -> None:
        """Answer the first requests with `answers` in order, then keep giving the last one."""
        queue = list(answers)

        def answer(_: StubRequest) -> Answer:
            with self._lock:
                return queue.pop(0) if len(queue) > 1 else queue[0]

        self.route(method, path, answer)

    def hits_for(self, method: str, path: str) -> list[StubRequest]:
        with self._lock:
            return [h for h in self.hits if h.method == method and h.path == path]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeMattermost(StubServer):
    """The Apps plugin's `/oauth2/user` (per acting-user token), `/oauth2/app`, and the two DM calls."""

    def __init__(self, tokens: dict[str, str]) -> None:
        super().__init__()
        self.tokens = tokens  # Mattermost token -> user id
        self.stored: dict[str, bytes] = {}
        self.route("GET", APPS_API_PATH + "/oauth2/user", self._get_user)
        self.route("POST", APPS_API_PATH + "/oauth2/user", self._post_user)
        self.route("POST", APPS_API_PATH + "/oauth2/app", lambda r: (200, ""))
        self.route("POST", "/api/v4/channels/direct", lambda r: (201, {"id": "dmchannel"}))
        self.route("POST", "/api/v4/posts", lambda r: (201, {"id": "post1"}))

    def _user(self, request: StubRequest) -> str | None:
        return self.tokens.get(request.bearer)

    def _get_user(self, request: StubRequest) -> Answer:
        user = self._user(request)
        if user is None:
            return 401, "user ID is required: unauthorized"
        return 200, self.stored.get(user, b"")

    def _post_user(self, request: StubRequest) -> Answer:
        user = self._user(request)
        if user is None:
            return 401, "user ID is required: unauthorized"
        if len(request.body) > 8192:
            return 500, "size limit of 8Kb exceeded"
        self.stored[user] = request.body
        return 200, ""


@dataclass
class Grant:
    refresh_token: str
    access_tokens: set[str] = field(default_factory=set)
    used_refresh_tokens: set[str] = field(default_factory=set)
    revoked: bool = False


class RotatingProvider(StubServer):
    """An OAuth2 token endpoint that rotates refresh tokens; replaying a used one revokes the grant (and its
    access tokens), like oidc-provider with rotation on. Also userinfo, revoke and the Calendar events list."""

    CALENDAR_EVENTS = "/calendar/v3/calendars/primary/events"

    def __init__(self, *, client_id: str, client_secret: str, access_ttl: int = 3600, refresh_delay: float = 0.0) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_ttl = access_ttl
        self.refresh_delay = refresh_delay
        self.grants: list[Grant] = []
        self.codes: dict[str, Grant] = {}
        self.issued: list[str] = []  # every code, access token and refresh token handed out
        self.replays = 0
        # What the token answers say was granted: all the app asks for, unless a test unticks some (as providers let users).
        self.granted_scopes: tuple[str, ...] = AppProvider.scopes
        self.route("POST", "/token", self._token)
        self.route("GET", "/userinfo", self._userinfo)
        self.route("POST", "/revoke", self._revoke)
        self.route("GET", self.CALENDAR_EVENTS, self._events)

    def issue_code(self) -> str:
        code = "code-" + secrets.token_urlsafe(16)
        with self._lock:
            self.codes[code] = Grant(refresh_token="rt-" + secrets.token_urlsafe(24))
            self.issued += [code, self.codes[code].refresh_token]
        return code

    def new_grant(self) -> tuple[str, str]:
        """A grant as if a connect had just happened: (access token, refresh token)."""
        grant = Grant(refresh_token="rt-" + secrets.token_urlsafe(24))
        access = "at-" + secrets.token_urlsafe(24)
        grant.access_tokens.add(access)
        with self._lock:
            self.grants.append(grant)
            self.issued += [access, grant.refresh_token]
        return access, grant.refresh_token

    def _client_ok(self, request: StubRequest) -> bool:
        import base64

        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return user == self.client_id and password == self.client_secret
        return request.form.get("client_id") == self.client_id and request.form.get("client_secret") == self.client_secret

    def _token_answer(self, grant: Grant) -> Answer:
        access = "at-" + secrets.token_urlsafe(24)
        grant.access_tokens.add(access)
        self.issued += [access, grant.refresh_token]
        return 200, {
            "access_token": access,
            "refresh_token": grant.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.access_ttl,
            "scope": " ".join(self.granted_scopes),
        }

    def _token(self, request: StubRequest) -> Answer:
        if not self._client_ok(request):
            return 401, {"error": "invalid_client"}
        form = request.form
        if form.get("grant_type") == "authorization_code":
            with self._lock:
                grant = self.codes.pop(form.get("code", ""), None)
                if grant is None:
                    return 400, {"error": "invalid_grant"}
                self.grants.append(grant)
                return self._token_answer(grant)
        if form.get("grant_type") == "refresh_token":
            if self.refresh_delay:
                time.sleep(self.refresh_delay)
            token = form.get("refresh_token", "")
            with self._lock:
                for grant in self.grants:
                    if token in grant.used_refresh_tokens:
                        self.replays += 1
                        grant.revoked = True
                        return 400, {"error": "invalid_grant", "error_description": "refresh token replayed"}
                    if token == grant.refresh_token and not grant.revoked:
                        grant.used_refresh_tokens.add(token)
                        grant.refresh_token = "rt-" + secrets.token_urlsafe(24)
                        return self._token_answer(grant)
            return 400, {"error": "invalid_grant"}
        return 400, {"error": "unsupported_grant_type"}

    def _valid_access(self, token: str) -> bool:
        with self._lock:
            return any(token in g.access_tokens and not g.revoked for g in self.grants)

    def _userinfo(self, request: StubRequest) -> Answer:
        if not self._valid_access(request.bearer):
            return 401, {"error": "invalid_token"}
        return 200, {"sub": "248289761001", "email": "alice@gmail.com", "name": "Alice G"}

    def _events(self, request: StubRequest) -> Answer:
        if not self._valid_access(request.bearer):
            return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}
        return 200, {"items": []}

    def _revoke(self, request: StubRequest) -> Answer:
        token = request.form.get("token", "")
        with self._lock:
            for grant in self.grants:
                if token == grant.refresh_token or token in grant.access_tokens:
                    grant.revoked = True
        return 200, ""

    @property
    def live_grants(self) -> int:
        with self._lock:
            return sum(1 for g in self.grants if not g.revoked)


def provider_settings_overrides(provider_url: str) -> dict[str, Any]:
    """make_settings(**these): every provider URL on the loopback stub."""
    return {
        "oauth2_authorize_url": provider_url + "/auth",
        "oauth2_token_url": provider_url + "/token",
        "oauth2_revoke_url": provider_url + "/revoke",
        "oauth2_userinfo_url": provider_url + "/userinfo",
        "google_api_url": provider_url + "/calendar/v3",
    }


def post_call(client: FlaskClient, installed: InstalledApp, body: dict[str, Any]) -> dict[str, Any]:
    """POST a CallRequest as the plugin does (JWT included); the answer must be a 200 CallResponse."""
    response = client.post(body["path"], data=json.dumps(body), headers=call_headers(installed, body))
    assert response.status_code == 200, response.data
    result = response.get_json()
    assert isinstance(result, dict) and result.get("type") in ("ok", "error", "form", "navigate"), result
    return result


def acting_id(body: Any) -> str:
    """The acting_user_id the plugin would put in the JWT for this body: the expanded acting user's id, if any."""
    context = body.get("context") if isinstance(body, dict) else None
    user = context.get("acting_user") if isinstance(context, dict) else None
    user_id = user.get("id") if isinstance(user, dict) else None
    return user_id if isinstance(user_id, str) else ""


def a_record(
    *,
    access_token: str = "ya29.access-token-0001",
    refresh_token: str | None = "1//refresh-token-0001",
    expires_in: float = 3600.0,
    email: str = "alice@gmail.com",
) -> TokenRecord:
    return TokenRecord(
        access_token,
        refresh_token,
        time.time() + expires_in,
        " ".join(AppProvider.scopes),  # all the app asks for
        "Bearer",
        Identity("248289761001", email, "Alice G"),
    )


ALICE_ID = "a1icea1icea1icea1icea1icea"


def seal(record: TokenRecord, *keys: str, user_id: str = ALICE_ID) -> dict[str, Any]:
    return TokenCipher(keys).seal(record, user_id=user_id)


def unseal(stored: bytes | dict[str, Any], *keys: str, user_id: str = ALICE_ID) -> TokenRecord:
    return TokenCipher(keys).open(json.loads(stored) if isinstance(stored, bytes) else stored, user_id=user_id)
