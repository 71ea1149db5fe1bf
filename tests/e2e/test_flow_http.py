"""The whole flow over real HTTP, requests only: emulated Mattermost, a real OAuth2 server, the app under gunicorn."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from commands import COMMANDS
from handlers.messages import text
from provider import AppProvider
from tests.conftest import CONFIGURE_SUBMIT_EXPAND
from tests.names import CMD, PROVIDER

from .calendar_stub import DECLINED_TITLE, WORKING_LOCATION_TITLE
from .harness import CLIENT_ID, CLIENT_SECRET, Stack, UserAgent, complete_url, connect_link, connect_url

pytestmark = pytest.mark.e2e


def connect(stack: Stack, user: UserAgent, provider_login: str | None = None) -> None:
    link = connect_link(stack.emulator.command(user.username, f"{CMD} connect"))
    page = user.connect(link, provider_login=provider_login or user.username)
    assert page.status_code == 200, page.text
    assert "Completed connecting your account" in page.text


def stores(stack: Stack) -> list[dict]:
    return stack.emulator.rest_calls("POST", "/oauth2/user")


def test_admin_configures_the_client(mattermost: Stack) -> None:
    emulator = mattermost.emulator
    answer = emulator.command("sysadmin", f"{CMD} configure")
    assert answer["type"] == "form", answer
    fields = {f["name"]: f for f in answer["form"]["fields"]}
    assert fields["client_secret"]["subtype"] == "password" and "client_id" in fields

    answer = emulator.submit("sysadmin", answer["form"]["submit"], {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})

    assert answer["type"] == "ok", answer
    assert CLIENT_SECRET not in answer["text"] and "…wxyz" in answer["text"]
    assert complete_url(emulator.site_url) in answer["text"]
    stored = emulator.oauth2_app()
    assert (stored["client_id"], stored["client_secret"]) == (CLIENT_ID, CLIENT_SECRET)
    assert [c["status"] for c in emulator.rest_calls("POST", "/oauth2/app")] == [200]


def test_non_admin_configure_is_refused_and_stores_nothing(mattermost: Stack) -> None:
    emulator = mattermost.emulator
    # alice has no `configure` binding; a crafted submit reaches the app, which refuses it.
    assert emulator.command("alice", f"{CMD} configure")["type"] == "error"
    answer = emulator.submit(
        "alice",
        {"path": "/configure/submit", "expand": CONFIGURE_SUBMIT_EXPAND},
        {"client_id": "evil-client", "client_secret": "evil-secret"},
    )

    assert answer == {**answer, "type": "error", "text": text("configure.admin_only")}
    assert not emulator.oauth2_app().get("client_id")
    assert emulator.rest_calls("POST", "/oauth2/app") == []
    assert [c["type"] for c in emulator.app_calls("/configure/submit")] == ["error"]


def test_user_connects_uses_the_token_and_disconnects(configured: Stack, alice: UserAgent) -> None:
    emulator, provider = configured.emulator, configured.provider
    answer = emulator.command("alice", f"{CMD} connect")
    assert connect_link(answer) == connect_url(emulator.site_url)

    page = alice.connect(connect_link(answer), provider_login="alice")

    assert page.status_code == 200 and "Completed connecting your account" in page.text
    authorize = urlsplit(alice.authorization_url)
    query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == f"{provider.url}/auth"
    assert re.fullmatch(r"[A-Za-z0-9_-]{20}\.\w{26}", query["state"])
    assert query["redirect_uri"] == complete_url(emulator.site_url) and query["client_id"] == CLIENT_ID
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert {key: query[key] for key in AppProvider.authorization_params} == dict(AppProvider.authorization_params)
    assert "offline_access" in query["scope"].split()
    record = configured.stored_record("alice")
    assert record is not None and record.refresh_token
    assert (record.identity.sub, record.identity.email, record.identity.name) == ("alice", "alice@example.test", "Alice Test")
    assert [r["status"] for r in provider.token_requests("authorization_code")] == [200]
    # The identity came from the ID token of the exchange: no userinfo round trip while the user waited.
    assert [r for r in provider.requests_log() if r["path"] == "/me"] == []
    [dm] = emulator.wait_for_posts("alice", 1)
    assert "**alice@example.test** is now connected" in dm["message"]

    info = emulator.command("alice", f"{CMD} info")
    assert info["type"] == "ok", info
    assert f"Connected to {PROVIDER} as **alice@example.test** (Alice Test)" in info["text"]
    events = emulator.command("alice", f"{CMD} events")
    assert events["type"] == "ok", events
    assert "Design review" in events["text"] and "Team lunch" in events["text"]
    # Only default events, and none the user declined.
    assert WORKING_LOCATION_TITLE not in events["text"] and DECLINED_TITLE not in events["text"]
    # A fresh token is used as it is: no refresh, nothing stored again since complete.
    assert provider.token_requests("refresh_token") == []
    assert len(stores(configured)) == 1

    answer = emulator.command("alice", f"{CMD} disconnect")

    assert answer["type"] == "ok" and answer["refresh_bindings"] is True, answer
    assert f"Disconnected your {PROVIDER} account **alice@example.test**" in answer["text"]
    assert configured.stored_record("alice") is None
    assert [r["status"] for r in provider.requests_log() if r["path"] == "/token/revocation"] == [200]
    assert provider.refresh(record.refresh_token).json()["error"] == "invalid_grant"
    # `info` is still bound (one that is not would get the web client's parser error), and says what to do first.
    assert emulator.command("alice", f"{CMD} info") == {"type": "error", "text": text("not_connected")}


def test_expired_access_token_is_refreshed_once_and_stored_back(configured: Stack, alice: UserAgent) -> None:
    emulator, provider = configured.emulator, configured.provider
    provider.set_access_token_ttl(2)
    connect(configured, alice)
    provider.set_access_token_ttl(3600)
    before_raw = emulator.stored_oauth2_user("alice")
    before = configured.stored_record("alice")
    assert before is not None and before.expires_at is not None
    time.sleep(max(0.0, before.expires_at - time.time() + 0.3))
    assert provider.userinfo_status(before.access_token) == 401  # really expired at the provider
    provider.clear_log()
    emulator.clear_log()

    info = emulator.command("alice", f"{CMD} info")

    assert info["type"] == "ok" and f"Connected to {PROVIDER} as **alice@example.test**" in info["text"], info
    assert [r["status"] for r in provider.token_requests("refresh_token")] == [200]
    assert [c["status"] for c in stores(configured)] == [200]
    after = configured.stored_record("alice")
    assert emulator.stored_oauth2_user("alice") != before_raw
    assert after is not None and after.access_token != before.access_token
    assert after.refresh_token == before.refresh_token
    assert after.expires_at is not None and after.expires_at > time.time() + 3000
    assert provider.userinfo_status(after.access_token) == 200

    assert emulator.command("alice", f"{CMD} events")["type"] == "ok"
    assert len(provider.token_requests("refresh_token")) == 1 and len(stores(configured)) == 1


def test_revoked_grant_clears_the_record_and_asks_to_reconnect(configured: Stack, alice: UserAgent) -> None:
    emulator, provider = configured.emulator, configured.provider
    connect(configured, alice)
    record = configured.stored_record("alice")
    assert record is not None and record.refresh_token
    assert provider.revoke(record.refresh_token) == 200
    assert provider.userinfo_status(record.access_token) == 401  # revoking the refresh token ends the whole grant

    info = emulator.command("alice", f"{CMD} info")

    assert info["type"] == "error", info
    assert info["text"] == text("grant_ended")
    assert emulator.stored_oauth2_user("alice") == "null"
    assert [r["status"] for r in provider.token_requests("refresh_token")] == [400]
    assert connect_link(emulator.command("alice", f"{CMD} connect"))  # `connect` is offered again


def test_cancelled_consent_gives_a_clear_error_and_stores_nothing(configured: Stack, alice: UserAgent) -> None:
    emulator = configured.emulator
    link = connect_link(emulator.command("alice", f"{CMD} connect"))

    page = alice.connect(link, provider_login="alice", cancel=True)

    assert page.status_code == 500 and page.headers["Content-Type"].startswith("text/plain")
    assert f"You did not allow access at {PROVIDER}, so your {PROVIDER} account was not connected." in page.text
    assert [c["type"] for c in emulator.app_calls("/oauth2/complete")] == ["error"]
    assert emulator.stored_oauth2_user("alice") is None and stores(configured) == []
    # The same sentence waits in the bot's DM: the plugin's bare error page is easy to close unread.
    [dm] = emulator.wait_for_posts("alice", 1)
    assert dm["message"] == f"You did not allow access at {PROVIDER}, so your {PROVIDER} account was not connected."
    assert configured.provider.token_requests("authorization_code") == []


def test_replayed_redirect_is_refused_and_never_reaches_the_app(configured: Stack, alice: UserAgent) -> None:
    emulator = configured.emulator
    redirect = alice.authorize(connect_link(emulator.command("alice", f"{CMD} connect")), provider_login="alice")
    assert alice.open(redirect).status_code == 200
    stored = emulator.stored_oauth2_user("alice")
    emulator.clear_log()

    again = alice.open(redirect)

    assert (again.status_code, again.text.strip()) == (403, "state mismatch: forbidden")
    assert emulator.app_calls("/oauth2/complete") == [] and stores(configured) == []
    assert emulator.stored_oauth2_user("alice") == stored


def test_someone_elses_redirect_is_refused_and_stores_nothing(configured: Stack, alice: UserAgent) -> None:
    emulator = configured.emulator
    bob = UserAgent(emulator.url, "bob")
    redirect = alice.authorize(connect_link(emulator.command("alice", f"{CMD} connect")), provider_login="alice")

    answer = bob.open(redirect)

    assert (answer.status_code, answer.text.strip()) == (403, "forbidden")
    assert emulator.app_calls("/oauth2/complete") == [] and stores(configured) == []
    assert emulator.stored_oauth2_user("alice") is None and emulator.stored_oauth2_user("bob") is None
    assert configured.provider.token_requests("authorization_code") == []


def test_expired_state_is_refused_and_never_reaches_the_app(configured: Stack, alice: UserAgent) -> None:
    emulator = configured.emulator
    redirect = alice.authorize(connect_link(emulator.command("alice", f"{CMD} connect")), provider_login="alice")
    emulator.expire_states()

    answer = alice.open(redirect)

    assert (answer.status_code, answer.text.strip()) == (403, "state mismatch: forbidden")
    assert emulator.app_calls("/oauth2/complete") == [] and emulator.stored_oauth2_user("alice") is None


def test_a_user_who_unticks_a_scope_is_connected_and_told_what_is_missing(configured: Stack, alice: UserAgent) -> None:
    # Granular consent: the provider grants less than asked, and its token answer's scope says so.
    emulator, provider = configured.emulator, configured.provider
    calendar = next(command for command in COMMANDS if command.scopes)
    provider.untick_scopes(*calendar.scopes)
    try:
        connect(configured, alice)
    finally:
        provider.untick_scopes()
    record = configured.stored_record("alice")
    assert record is not None and not set(calendar.scopes) & set(record.scope.split())
    [dm] = emulator.wait_for_posts("alice", 1)
    assert f"so `/{AppProvider.command} {calendar.label}` cannot work yet" in dm["message"]
    assert emulator.command("alice", f"/{AppProvider.command} info")["type"] == "ok"  # the identity works
    answer = emulator.command("alice", f"/{AppProvider.command} {calendar.label}")
    assert answer["type"] == "error" and text(f"permission.{calendar.label}") in answer["text"], answer
    assert not any(r["path"] == "/token" and r.get("grant_type") == "refresh_token" for r in provider.requests_log())
