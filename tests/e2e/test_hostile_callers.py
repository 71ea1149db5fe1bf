"""Hostile callers, over real HTTP against the app under gunicorn: the plugin's JWT covers no part of a call's body, so
whoever holds one valid call (or APP_SECRET) chooses every URL, id and token in it. Each test is an attack that used
to work, and what the app does now.

- The Mattermost the app talks to is pinned (MATTERMOST_SITE_URL, or the first a call names): a call cannot aim the
  app's requests at another host, learn what answers there, or plant a cookie that travels with other requests.
- A deadline per call: a hanging API costs the user the app's sentence, before the plugin's 30 s run out.
- Text that is not Unicode (a lone surrogate) and hosts DNS cannot carry get a sentence, never a traceback.
- A JWT valid for longer than the plugin signs, or naming a user the body does not, is refused.
Against the whole stack (emulator, oidc-provider): another user's code is never redeemed, a replayed call without a
user token revokes nothing, another user's record reads as none, and a browser with no Mattermost session is told
what to do before any consent.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.fernet import Fernet

from handlers.messages import text
from mattermost_apps.testing import (
    DEFAULT_COMPLETE_EXPAND,
    DEFAULT_CONNECT_EXPAND,
    InstalledApp,
    User,
    build_call_request,
    sign_jwt,
)
from provider import AppProvider, Identity
from tests.names import APP_ID, BOT_USERNAME, CMD, PROVIDER
from tests.security.support import StubServer
from user_tokens import TokenCipher, TokenRecord

from .conftest import RUNNING
from .harness import (
    CLIENT_ID,
    CLIENT_SECRET,
    REPO_ROOT,
    ManagedProcess,
    Stack,
    UserAgent,
    app_env,
    connect_link,
    connect_url,
    free_port,
    start_app,
    stop_all,
)

pytestmark = pytest.mark.e2e

JWT_HEADER = "Mattermost-App-Authorization"
ALICE = User(id="alice000000000000000000000", username="alice", email="alice@example.com", first_name="Alice")
BOB = User(id="bob00000000000000000000000", username="bob", email="bob@example.com", first_name="Bob")
ADMIN = User(id="sysadmin00000000000000000a", username="sysadmin", roles="system_admin system_user")
BOT = User(id="b0tb0tb0tb0tb0tb0tb0tb0tb0", username=BOT_USERNAME, is_bot=True)
TOKEN_USE = {"acting_user": "summary", "acting_user_access_token": "all", "oauth2_app": "all", "oauth2_user": "all"}
CONFIGURE_SUBMIT = {"acting_user": "summary", "acting_user_access_token": "all", "oauth2_app": "all"}


@dataclass
class App:
    """One app under gunicorn, started for these tests, and what it needs to be called as the plugin calls it."""

    url: str
    secret: str
    key: str
    process: ManagedProcess

    def installed(self, site_url: str) -> InstalledApp:
        return InstalledApp(
            app_id=APP_ID,
            root_url=self.url,
            secret=self.secret,
            bot=BOT,
            bot_access_token="bottoken00000000000000000b",
            site_url=site_url,
            oauth2_app={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        )

    def call(self, body: dict[str, Any], *, token: str | None = None, timeout: float = 30) -> dict[str, Any]:
        acting = (body.get("context", {}).get("acting_user") or {}).get("id", "")
        header = "Bearer " + (token if token is not None else sign_jwt(self.secret, acting))
        # requests.post: a new connection each time, as a fresh caller's would be.
        response = requests.post(
            self.url + body["path"],
            data=json.dumps(body),
            headers={JWT_HEADER: header, "Content-Type": "application/json"},
            timeout=timeout,
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["type"] in ("ok", "error", "form"), answer
        return answer

    def sealed(self, record: TokenRecord, user: User) -> dict[str, Any]:
        return TokenCipher((self.key,)).seal(record, user_id=user.id)

    def log(self) -> str:
        return self.process.output(limit=200_000)


def a_record(access_token: str = "ya29.e2e-access") -> TokenRecord:
    return TokenRecord(
        access_token,
        "1//e2e-refresh",
        time.time() + 3600,
        " ".join(AppProvider.scopes),  # every scope the app asks for
        "Bearer",
        Identity("108", "alice@gmail.com", "Alice G"),
    )


@pytest.fixture(scope="module")
def stubs() -> Iterator[dict[str, StubServer]]:
    """A legitimate Mattermost, a hostile one, a provider and a Calendar API that never answers, on loopback."""
    servers = {name: StubServer() for name in ("mattermost", "hostile", "provider", "hanging")}
    servers["mattermost"].route("POST", "/plugins/com.mattermost.apps/api/v1/oauth2/app", lambda r: (200, ""))
    servers["provider"].route("POST", "/revoke", lambda r: (200, ""))
    servers["provider"].route("GET", "/userinfo", lambda r: (200, {"sub": "108", "email": "alice@gmail.com"}))

    def hang(request: Any) -> tuple[int, Any]:
        time.sleep(8)
        return 200, {"items": []}

    servers["hanging"].route("GET", "/calendar/v3/calendars/primary/events", hang)
    for server in servers.values():
        server.__enter__()
    yield servers
    for server in servers.values():
        server.__exit__()


@pytest.fixture(scope="module")
def start(tmp_path_factory: pytest.TempPathFactory, stubs: dict[str, StubServer]) -> Iterator[Any]:
    started: list[ManagedProcess] = []

    def start_one(name: str, **overrides: str) -> App:
        port = free_port()
        secret, key = secrets.token_urlsafe(32), Fernet.generate_key().decode()
        provider = stubs["provider"].url
        env = app_env(
            port=port,
            root_url=f"http://127.0.0.1:{port}",
            app_secret=secret,
            provider_url=provider,
            calendar_url=stubs["hanging"].url + "/calendar/v3",
            encryption_key=key,
        )
        env |= {"OAUTH2_REVOKE_URL": provider + "/revoke", "OAUTH2_USERINFO_URL": provider + "/userinfo", **overrides}
        process = start_app(port, env=env, log_dir=tmp_path_factory.mktemp(name), name=name)
        started.append(process)
        RUNNING.append(process)
        process.wait_until_up("/manifest.json")
        return App(f"http://127.0.0.1:{port}", secret, key, process)

    yield start_one
    stop_all(started)


@pytest.fixture(scope="module")
def unpinned(start: Any) -> App:
    return start("app-unpinned")


# -- where the app's requests go ----------------------------------------------------------------------------------


def configure_call(app: App, site_url: str) -> dict[str, Any]:
    body = build_call_request(
        app.installed(site_url),
        {"path": "/configure/submit", "expand": CONFIGURE_SUBMIT},
        acting_user=ADMIN,
        acting_user_access_token="admintoken000000000000000a",
        values={"client_id": "id.client.example.test", "client_secret": "s3cret-s3cret"},
    )
    return body


def install_call(app: App, site_url: str) -> dict[str, Any]:
    """The plugin's call of the manifest's `on_install`, made as the admin installing the app."""
    on_install = json.loads(Path(REPO_ROOT / "manifest.json").read_text(encoding="utf-8"))["on_install"]
    return build_call_request(app.installed(site_url), on_install, acting_user=ADMIN)


def test_a_call_cannot_aim_the_app_at_another_host(unpinned: App, stubs: dict[str, StubServer]) -> None:
    legitimate, hostile = stubs["mattermost"], stubs["hostile"]
    assert unpinned.call(install_call(unpinned, legitimate.url))["type"] == "ok"  # the install: trusted from now on
    assert unpinned.call(configure_call(unpinned, legitimate.url))["type"] == "ok"
    closed = f"http://127.0.0.1:{free_port()}"
    answers = [unpinned.call(configure_call(unpinned, url)) for url in (hostile.url, closed, hostile.url + "/any/path")]
    assert hostile.hits == []  # not one request, so nothing to learn from, nothing to carry tokens to
    sentence = "The call names another Mattermost than the one this app serves, so it is refused"
    assert all(a["type"] == "error" and a["text"].startswith(sentence) for a in answers), answers
    assert len({a["text"] for a in answers}) == 1  # an open port, a closed one, another path: the same answer
    assert unpinned.call(configure_call(unpinned, legitimate.url))["type"] == "ok"


def test_an_upstream_answer_is_never_shown_and_its_cookie_goes_nowhere(start: Any, stubs: dict[str, StubServer]) -> None:
    hostile, provider = stubs["hostile"], stubs["provider"]
    cookie = {"Set-Cookie": "session=planted-by-the-target; Path=/"}
    body = "internal-admin-console: welcome root, db password hunter2"
    hostile.route("POST", "/plugins/com.mattermost.apps/api/v1/oauth2/app", lambda r: (401, body, cookie))
    hostile.route("POST", "/plugins/com.mattermost.apps/api/v1/oauth2/user", lambda r: (200, "", cookie))
    hostile.route(
        "GET", "/plugins/com.mattermost.apps/api/v1/oauth2/user", lambda r: (302, "", {"Location": provider.url + "/x"})
    )
    app = start("app-pinned-hostile", MATTERMOST_SITE_URL=hostile.url)

    answer = app.call(configure_call(app, "http://mattermost.invalid"))  # the context's URL is ignored: pinned
    assert answer == {"type": "error", "text": "Mattermost refused to store the OAuth2 client (HTTP 401)."}
    assert "hunter2" not in app.log() and "internal-admin-console" not in app.log()

    disconnect = build_call_request(
        app.installed("http://mattermost.invalid"),
        {"path": "/commands/disconnect", "expand": TOKEN_USE},
        acting_user=ALICE,
        acting_user_access_token="alicetoken000000000000000a",
        stored_oauth2_user=json.dumps(app.sealed(a_record(), ALICE)).encode(),
    )
    assert app.call(disconnect)["type"] == "ok"
    (revoke,) = provider.hits_for("POST", "/revoke")
    assert "cookie" not in revoke.headers  # the cookie the "Mattermost" set travels with no other request
    assert all("cookie" not in hit.headers for hit in hostile.hits)
    assert provider.hits_for("GET", "/x") == []  # and a redirect is not followed


# -- a deadline per call --------------------------------------------------------------------------------------------


def test_a_hanging_api_gets_the_apps_sentence_before_the_deadline(start: Any, stubs: dict[str, StubServer]) -> None:
    # Without the deadline: three GET attempts of HTTP_TIMEOUT each (6.4 s here; 30 s and more with the defaults).
    app = start("app-deadline", HTTP_TIMEOUT="2", CALL_DEADLINE="5", MATTERMOST_SITE_URL=stubs["mattermost"].url)
    hanging = stubs["hanging"]
    before = len(hanging.hits)
    events = build_call_request(
        app.installed(stubs["mattermost"].url),
        {"path": "/commands/events", "expand": TOKEN_USE},
        acting_user=ALICE,
        acting_user_access_token="alicetoken000000000000000a",
        stored_oauth2_user=json.dumps(app.sealed(a_record(), ALICE)).encode(),
    )
    started = time.monotonic()
    answer = app.call(events)
    elapsed = time.monotonic() - started
    assert answer == {
        "type": "error",
        "text": f"{PROVIDER} could not be reached to list your events; please try again in a minute.",
    }
    assert elapsed < 5.5, elapsed
    assert len(hanging.hits) - before == 2  # the retry that could not finish in time was not started


# -- input no code path expects -------------------------------------------------------------------------------------


def connect_call(app: App, site_url: str, **context: Any) -> dict[str, Any]:
    body = build_call_request(
        app.installed(site_url),
        {"path": "/oauth2/connect", "expand": DEFAULT_CONNECT_EXPAND},
        acting_user=ALICE,
        acting_user_access_token="alicetoken000000000000000a",
        values={"state": "q1w2e3r4t5y6u7i8o9p0." + ALICE.id},
    )
    for path, value in context.items():
        *parents, leaf = path.split(".")
        target = body
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return body


@pytest.mark.parametrize(
    ("where", "value", "sentence"),
    [
        ("values.state", "abc\ud800." + ALICE.id, "The field values.state holds text that is not valid Unicode"),
        ("context.oauth2.client_id", "id\ud800", "The field context.oauth2.client_id holds text that is not valid Unicode"),
        ("context.oauth2.complete_url", "https://mm/\ud800", "The field context.oauth2.complete_url holds text"),
    ],
    ids=["state", "client_id", "complete_url"],
)
def test_a_lone_surrogate_gets_a_sentence_not_a_traceback(
    unpinned: App, stubs: dict[str, StubServer], where, value, sentence
) -> None:
    answer = unpinned.call(connect_call(unpinned, stubs["mattermost"].url, **{where: value}))
    assert answer["type"] == "error" and answer["text"].startswith(sentence), answer
    assert "Traceback" not in unpinned.log()


def test_a_host_dns_cannot_carry_gets_a_sentence_not_a_traceback(start: Any) -> None:
    app = start("app-fresh")  # nothing pinned yet: the bad URL would be the first
    answer = app.call(configure_call(app, "http://" + "a" * 300 + ".example.com"))
    assert answer == {"type": "error", "text": "The call names a Mattermost site URL the app cannot use, so it is refused."}
    assert "Traceback" not in app.log()


# -- JWTs the plugin never signs ------------------------------------------------------------------------------------


def test_a_jwt_valid_for_years_is_refused(unpinned: App, stubs: dict[str, StubServer]) -> None:
    body = connect_call(unpinned, stubs["mattermost"].url)
    forever = jwt.encode({"exp": 253402300799, "acting_user_id": ALICE.id}, unpinned.secret, algorithm="HS256")
    answer = unpinned.call(body, token=forever)
    assert answer == {"type": "error", "text": text("jwt.exp_too_far")}


def test_a_jwt_naming_a_user_signs_no_call_without_that_user(unpinned: App, stubs: dict[str, StubServer]) -> None:
    body = connect_call(unpinned, stubs["mattermost"].url)
    del body["context"]["acting_user"]
    answer = unpinned.call(body, token=sign_jwt(unpinned.secret, ALICE.id))
    assert answer == {"type": "error", "text": "The call's acting user does not match its JWT, so it is refused."}


# -- against the whole stack ----------------------------------------------------------------------------------------


def stack_installed(stack: Stack) -> InstalledApp:
    return InstalledApp(
        app_id=APP_ID,
        root_url=stack.app_url,
        secret=stack.app_secret,
        bot=BOT,
        bot_access_token="bottoken00000000000000000b",
        site_url=stack.emulator.site_url,
        oauth2_app={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )


def post_to(stack: Stack, body: dict[str, Any], *, jwt_user: str | None = None) -> dict[str, Any]:
    acting = (body.get("context", {}).get("acting_user") or {}).get("id", "") if jwt_user is None else jwt_user
    response = requests.post(
        stack.app_url + body["path"],
        data=json.dumps(body),
        headers={JWT_HEADER: "Bearer " + sign_jwt(stack.app_secret, acting), "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200
    return response.json()


def connected(configured: Stack, username: str = "alice") -> TokenRecord:
    agent = UserAgent(configured.emulator.url, username)
    page = agent.connect(connect_link(configured.emulator.command(username, f"{CMD} connect")), provider_login=username)
    assert page.status_code == 200 and "Completed connecting your account" in page.text, page.text
    record = configured.stored_record(username)
    assert record is not None
    return record


def test_another_users_code_is_never_redeemed(configured: Stack) -> None:
    alice = UserAgent(configured.emulator.url, "alice")
    redirect = alice.authorize(connect_link(configured.emulator.command("alice", f"{CMD} connect")), provider_login="alice")
    values = dict(re.findall(r"[?&]([^=&]+)=([^&]*)", redirect))
    values = {k: urllib.parse.unquote(v) for k, v in values.items()}
    assert values["state"].endswith("." + ALICE.id)
    configured.provider.clear_log()

    # Bob holds one valid call of his own, and Alice's code and state (from her screen, a log, a proxy).
    stolen = build_call_request(
        stack_installed(configured),
        {"path": "/oauth2/complete", "expand": DEFAULT_COMPLETE_EXPAND},
        acting_user=BOB,
        acting_user_access_token="bobtoken00000000000000000b",
        values=values,
    )
    answer = post_to(configured, stolen)
    assert answer["type"] == "error" and "started by another Mattermost user" in answer["text"], answer
    assert configured.provider.token_requests("authorization_code") == []  # refused before any exchange
    assert configured.stored_record("bob") is None

    # Alice's own redirect still connects her: the code was never spent.
    assert alice.open(redirect).status_code == 200
    record = configured.stored_record("alice")
    assert record is not None and record.identity.sub == "alice"


def test_a_replayed_call_without_a_user_token_revokes_nothing(configured: Stack) -> None:
    record = connected(configured)
    stored = configured.emulator.stored_oauth2_user("alice")
    assert stored is not None
    # A bindings call (it carries the record but no acting_user_access_token), replayed at disconnect.
    replayed = build_call_request(
        stack_installed(configured),
        {"path": "/commands/disconnect", "expand": {"acting_user": "summary", "oauth2_app": "all", "oauth2_user": "all"}},
        acting_user=ALICE,
        stored_oauth2_user=stored.encode(),
    )
    answer = post_to(configured, replayed)
    assert answer["type"] == "error" and "acting_user_access_token" in answer["text"], answer
    assert configured.emulator.stored_oauth2_user("alice") == stored  # still connected
    assert configured.provider.userinfo_status(record.access_token) == 200  # and the grant is alive
    assert configured.emulator.command("alice", f"{CMD} info")["type"] == "ok"


def test_another_users_record_reads_as_none(configured: Stack) -> None:
    connected(configured)
    alices = configured.emulator.stored_oauth2_user("alice")
    assert alices is not None
    configured.provider.clear_log()
    swapped = build_call_request(
        stack_installed(configured),
        {"path": "/commands/info", "expand": TOKEN_USE},
        acting_user=BOB,
        acting_user_access_token="bobtoken00000000000000000b",
        stored_oauth2_user=alices.encode(),  # Alice's ciphertext in Bob's slot
    )
    answer = post_to(configured, swapped)
    assert answer == {"type": "error", "text": f"Your {PROVIDER} account is not connected: run {CMD} connect first."}
    assert [r for r in configured.provider.requests_log() if r["path"] == "/me"] == []  # her token was never used


def test_a_browser_with_no_mattermost_session_is_told_before_any_consent(configured: Stack) -> None:
    configured.provider.clear_log()
    browser = requests.Session()  # signed in to nothing: a link from the mobile app, opened in the system browser
    page = browser.get(connect_url(configured.emulator.site_url), allow_redirects=False, timeout=10)
    assert page.status_code == 500 and "not signed in to Mattermost" in page.text, page.text
    assert configured.provider.requests_log() == []  # never sent to the provider's consent

    complete = build_call_request(
        stack_installed(configured),
        {"path": "/oauth2/complete", "expand": DEFAULT_COMPLETE_EXPAND},
        acting_user=None,
        values={"state": "q1w2e3r4t5y6u7i8o9p0.", "code": "a-code"},
    )
    answer = post_to(configured, complete)
    assert answer["type"] == "error" and "not signed in to Mattermost" in answer["text"]
    assert configured.provider.token_requests("authorization_code") == []
