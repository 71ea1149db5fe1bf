"""Item 5: faults of the provider and of Mattermost give the user one clear sentence, store nothing half-done, and
leave one log line (WARNING) with the reason. Retries with backoff only for idempotent requests.

`requests_mock` replaces the transport adapter, so it cannot show urllib3's retries: the retry tests run the app
against loopback stub servers (tests/security/support.py).
"""

from __future__ import annotations

import logging
import time

import pytest
import requests

from app import create_app
from commands import COMMANDS
from handlers import messages
from mattermost_apps.testing import DEFAULT_COMPLETE_EXPAND, FakePlugin
from provider import AppProvider
from tests.conftest import (
    ADMIN,
    ALICE,
    APPS_API,
    CALENDAR_API,
    CLIENT_ID,
    CLIENT_SECRET,
    CONFIGURE_SUBMIT_EXPAND,
    REVOKE_URL,
    SITE_URL,
    TOKEN_URL,
    TOKEN_USE_EXPAND,
    USERINFO_URL,
    fake_plugin,
    make_settings,
)
from tests.names import PROVIDER

from .support import APPS_API_PATH, FakeMattermost, RotatingProvider, StubServer, a_record, provider_settings_overrides

STATE = "q1w2e3r4t5y6u7i8o9p0." + ALICE.id
EVENTS_URL = CALENDAR_API + "/calendars/primary/events"
TOKEN_ANSWER = {"access_token": "ya29.fault", "refresh_token": "1//fault", "expires_in": 3599, "token_type": "Bearer"}

TIMEOUTS_AND_5XX = {  # id: (requests_mock arguments, the reason the log line must name)
    "connect-timeout": ({"exc": requests.exceptions.ConnectTimeout}, "ConnectTimeout"),
    "read-timeout": ({"exc": requests.exceptions.ReadTimeout}, "ReadTimeout"),
    "connection-error": ({"exc": requests.exceptions.ConnectionError}, "ConnectionError"),
    "500": ({"status_code": 500, "text": "<html>Internal error</html>"}, "500"),
    "503": ({"status_code": 503, "text": "unavailable"}, "503"),
}
MATTERMOST_FAULTS = {
    "401": (401, "user ID is required: unauthorized"),
    "403": (403, "forbidden"),
    "500": (500, "size limit of 8Kb exceeded"),
}


def one_warning(caplog: pytest.LogCaptureFixture, *reasons: str) -> logging.LogRecord:
    """Exactly one WARNING-or-worse line, naming the reason, and no traceback."""
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    message = lines[0].getMessage()
    assert all(reason in message for reason in reasons), message
    assert lines[0].exc_info is None
    return lines[0]


def stored_record(plugin: FakePlugin) -> None:
    services = plugin.client.application.extensions["services"]
    plugin.store_user_record(ALICE, services.tokens._cipher.seal(a_record(), user_id=ALICE.id))


def mock_mattermost(requests_mock, *, user_status: int = 200, user_text: str = ""):
    stored = requests_mock.post(APPS_API + "/oauth2/user", status_code=user_status, text=user_text)
    requests_mock.get(APPS_API + "/oauth2/user", text="")  # read back after a store whose outcome is unknown: nothing
    dm = requests_mock.post(SITE_URL + "/api/v4/posts", json={"id": "p"})
    requests_mock.post(SITE_URL + "/api/v4/channels/direct", json={"id": "dm"})
    return stored, dm


def complete(plugin: FakePlugin) -> dict:
    return plugin.call("/oauth2/complete", DEFAULT_COMPLETE_EXPAND, values={"state": STATE, "code": "4/0Acode"})


# -- the provider fails --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fault", "reason"), TIMEOUTS_AND_5XX.values(), ids=TIMEOUTS_AND_5XX.keys())
def test_the_token_endpoint_fails_at_complete(plugin, requests_mock, caplog, fault, reason):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    requests_mock.post(TOKEN_URL, **fault)
    stored, dm = mock_mattermost(requests_mock)
    answer = complete(plugin)
    assert answer == {
        "type": "error",
        "text": f"{PROVIDER} could not be reached to exchange the authorization code; please try again in a minute.",
    }
    assert not stored.called and not dm.called
    one_warning(caplog, "exchange_code", reason)


@pytest.mark.parametrize(("fault", "reason"), TIMEOUTS_AND_5XX.values(), ids=TIMEOUTS_AND_5XX.keys())
def test_userinfo_fails_after_the_exchange_and_the_new_grant_is_revoked(plugin, requests_mock, caplog, fault, reason):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    requests_mock.post(TOKEN_URL, json=TOKEN_ANSWER)
    requests_mock.get(USERINFO_URL, **fault)
    revoke = requests_mock.post(REVOKE_URL, text="")
    stored, dm = mock_mattermost(requests_mock)
    answer = complete(plugin)
    assert answer["type"] == "error" and "could not be reached" in answer["text"] and "not connected" in answer["text"]
    assert not stored.called and not dm.called
    assert revoke.call_count == 1 and "token=1%2F%2Ffault" in revoke.last_request.body  # nothing lingers at the provider
    one_warning(caplog, "read_identity", reason)


@pytest.mark.parametrize(("fault", "reason"), TIMEOUTS_AND_5XX.values(), ids=TIMEOUTS_AND_5XX.keys())
@pytest.mark.parametrize("command", ["/commands/info", "/commands/events"])
def test_the_api_fails_when_using_the_token(plugin, requests_mock, caplog, fault, reason, command):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    stored_record(plugin)
    requests_mock.get(USERINFO_URL, **fault)
    requests_mock.get(EVENTS_URL, **fault)
    stored, _ = mock_mattermost(requests_mock)
    answer = plugin.call(command, TOKEN_USE_EXPAND)
    assert answer["type"] == "error" and "could not be reached" in answer["text"], answer
    assert not stored.called
    one_warning(caplog, reason)


@pytest.mark.parametrize(("fault", "reason"), TIMEOUTS_AND_5XX.values(), ids=TIMEOUTS_AND_5XX.keys())
def test_the_refresh_fails_and_the_stored_record_is_untouched(plugin, requests_mock, caplog, fault, reason):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    services = plugin.client.application.extensions["services"]
    plugin.store_user_record(ALICE, services.tokens._cipher.seal(a_record(expires_in=-5), user_id=ALICE.id))
    refresh = requests_mock.post(TOKEN_URL, **fault)
    stored, _ = mock_mattermost(requests_mock)
    answer = plugin.call("/commands/info", TOKEN_USE_EXPAND)
    assert answer == {
        "type": "error",
        "text": f"{PROVIDER} could not be reached to refresh the access token; please try again in a minute.",
    }
    assert refresh.call_count == 1 and not stored.called
    one_warning(caplog, "refresh", reason)


# -- Mattermost fails ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", MATTERMOST_FAULTS.values(), ids=MATTERMOST_FAULTS.keys())
def test_mattermost_refuses_to_store_at_complete(plugin, requests_mock, caplog, fault):
    status, text = fault
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    requests_mock.post(TOKEN_URL, json=TOKEN_ANSWER)
    requests_mock.get(USERINFO_URL, json={"sub": "1", "email": "alice@gmail.com"})
    revoke = requests_mock.post(REVOKE_URL, text="")
    stored, dm = mock_mattermost(requests_mock, user_status=status, user_text=text)
    answer = complete(plugin)
    assert answer["type"] == "error" and "store your connection" in answer["text"], answer
    assert answer["text"].endswith(f"Your {PROVIDER} account was not connected.")
    assert stored.call_count == 1 and not dm.called and revoke.call_count == 1
    one_warning(caplog, "/oauth2/user", str(status))


@pytest.mark.parametrize("fault", MATTERMOST_FAULTS.values(), ids=MATTERMOST_FAULTS.keys())
def test_mattermost_refuses_the_oauth2_client_at_configure(plugin, requests_mock, caplog, fault):
    status, text = fault
    app_store = requests_mock.post(APPS_API + "/oauth2/app", status_code=status, text=text)
    answer = plugin.call(
        "/configure/submit", CONFIGURE_SUBMIT_EXPAND, user=ADMIN, values={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    assert answer["type"] == "error" and "store the OAuth2 client" in answer["text"], answer
    assert CLIENT_SECRET not in answer["text"]
    assert app_store.call_count == 1
    one_warning(caplog, "/oauth2/app", str(status))


@pytest.mark.parametrize("fault", MATTERMOST_FAULTS.values(), ids=MATTERMOST_FAULTS.keys())
def test_mattermost_refuses_to_clear_at_disconnect(plugin, requests_mock, caplog, fault):
    status, text = fault
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    stored_record(plugin)
    requests_mock.post(REVOKE_URL, text="")
    mock_mattermost(requests_mock, user_status=status, user_text=text)
    answer = plugin.call("/commands/disconnect", TOKEN_USE_EXPAND)
    assert answer["type"] == "error" and "store your connection" in answer["text"], answer
    one_warning(caplog, "/oauth2/user", str(status))


def test_a_record_over_8_KiB_is_never_sent(plugin, requests_mock, caplog):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    requests_mock.post(TOKEN_URL, json={**TOKEN_ANSWER, "access_token": "ya29." + "x" * 9000})
    requests_mock.get(USERINFO_URL, json={"sub": "1", "email": "alice@gmail.com"})
    revoke = requests_mock.post(REVOKE_URL, text="")
    stored, dm = mock_mattermost(requests_mock)
    answer = complete(plugin)
    assert answer["type"] == "error" and "too large" in answer["text"] and "8192" in answer["text"], answer
    assert not stored.called and not dm.called and revoke.call_count == 1
    one_warning(caplog, "8192")


# -- retries over real sockets -------------------------------------------------------------------------------


@pytest.fixture
def stubs(insecure_transport):
    with (
        RotatingProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as provider,
        FakeMattermost({"alicetoken000000000000000a": ALICE.id}) as mattermost,
    ):
        yield provider, mattermost


def loopback_plugin(installed, provider: StubServer, mattermost: StubServer, **overrides) -> FakePlugin:
    settings = make_settings(**provider_settings_overrides(provider.url), **overrides)
    installed.site_url = mattermost.url
    plugin = fake_plugin(create_app(settings).test_client(), installed)
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    return plugin


def connected(plugin: FakePlugin, provider: RotatingProvider, **record) -> None:
    access, refresh = provider.new_grant()
    services = plugin.client.application.extensions["services"]
    plugin.store_user_record(
        ALICE, services.tokens._cipher.seal(a_record(access_token=access, refresh_token=refresh, **record), user_id=ALICE.id)
    )


def test_a_calendar_get_is_retried_on_503_with_backoff_and_succeeds(installed, stubs):
    provider, mattermost = stubs
    plugin = loopback_plugin(installed, provider, mattermost)
    connected(plugin, provider)
    events = provider.routes[("GET", provider.CALENDAR_EVENTS)]
    answers = [(503, "busy"), (503, "busy")]
    provider.route("GET", provider.CALENDAR_EVENTS, lambda r: answers.pop(0) if answers else events(r))
    answer = plugin.call("/commands/events", TOKEN_USE_EXPAND)
    assert answer["type"] == "ok", answer
    hits = provider.hits_for("GET", provider.CALENDAR_EVENTS)
    assert len(hits) == 3
    assert hits[2].at - hits[1].at >= 0.3  # urllib3 backoff: 0 s before the first retry, 0.4 s before the second


def test_a_calendar_get_gives_up_after_two_retries(installed, stubs, caplog):
    provider, mattermost = stubs
    plugin = loopback_plugin(installed, provider, mattermost)
    connected(plugin, provider)
    provider.route("GET", provider.CALENDAR_EVENTS, lambda r: (503, "busy"))
    answer = plugin.call("/commands/events", TOKEN_USE_EXPAND)
    assert answer["type"] == "error" and "could not be reached" in answer["text"]
    assert len(provider.hits_for("GET", provider.CALENDAR_EVENTS)) == 3
    one_warning(caplog, "503")


@pytest.mark.parametrize("answer", [(503, {"error": "temporarily_unavailable"}), (0, "")], ids=["503", "dropped"])
def test_the_token_post_is_sent_once(installed, stubs, answer):
    provider, mattermost = stubs
    plugin = loopback_plugin(installed, provider, mattermost)
    provider.route("POST", "/token", lambda r: answer)
    result = complete(plugin)
    assert result["type"] == "error" and "could not be reached" in result["text"]
    assert len(provider.hits_for("POST", "/token")) == 1
    assert not mattermost.hits_for("POST", APPS_API_PATH + "/oauth2/user")


def test_the_refresh_post_is_sent_once(installed, stubs):
    provider, mattermost = stubs
    plugin = loopback_plugin(installed, provider, mattermost)
    connected(plugin, provider, expires_in=-5)
    provider.route("POST", "/token", lambda r: (503, "busy"))
    assert plugin.call("/commands/info", TOKEN_USE_EXPAND)["type"] == "error"
    assert len(provider.hits_for("POST", "/token")) == 1


def test_the_revoke_post_is_sent_once(installed, stubs):
    provider, mattermost = stubs
    plugin = loopback_plugin(installed, provider, mattermost)
    connected(plugin, provider)
    provider.route("POST", "/revoke", lambda r: (503, "busy"))
    answer = plugin.call("/commands/disconnect", TOKEN_USE_EXPAND)
    assert answer["type"] == "ok" and "did not confirm the revocation" in answer["text"]
    assert len(provider.hits_for("POST", "/revoke")) == 1


def test_the_oauth2_user_post_is_sent_once(installed, stubs):
    provider, mattermost = stubs
    plugin = loopback_plugin(installed, provider, mattermost)
    mattermost.route("POST", APPS_API_PATH + "/oauth2/user", lambda r: (503, "busy"))
    provider.codes["4/0Acode"] = provider.codes.pop(provider.issue_code())
    answer = complete(plugin)
    assert answer["type"] == "error" and "store your connection" in answer["text"]
    assert len(mattermost.hits_for("POST", APPS_API_PATH + "/oauth2/user")) == 1
    assert provider.live_grants == 0  # the grant we could not store was revoked


def test_a_slow_token_endpoint_times_out_and_is_not_retried(installed, stubs):
    provider, mattermost = stubs
    plugin = loopback_plugin(installed, provider, mattermost, http_timeout=0.3)

    def slow(_):
        time.sleep(0.6)
        return 200, TOKEN_ANSWER

    provider.route("POST", "/token", slow)
    started = time.monotonic()
    answer = complete(plugin)
    assert answer["type"] == "error" and "could not be reached" in answer["text"]
    assert time.monotonic() - started < 2
    assert len(provider.hits_for("POST", "/token")) == 1


def test_a_slow_calendar_get_is_retried_after_a_read_timeout(installed, stubs):
    provider, mattermost = stubs
    plugin = loopback_plugin(installed, provider, mattermost, http_timeout=0.3)
    connected(plugin, provider)
    events = provider.routes[("GET", provider.CALENDAR_EVENTS)]
    first = [True]

    def slow_once(r):
        if first.pop() if first else False:
            time.sleep(0.6)
        return events(r)

    provider.route("GET", provider.CALENDAR_EVENTS, slow_once)
    assert plugin.call("/commands/events", TOKEN_USE_EXPAND)["type"] == "ok"
    assert len(provider.hits_for("GET", provider.CALENDAR_EVENTS)) == 2


def test_a_grant_of_fewer_scopes_connects_and_its_command_names_what_is_missing(installed, stubs):
    # Granular consent over real HTTP: the provider grants less than asked, as when a user unticks a box.
    provider, mattermost = stubs
    plugin = loopback_plugin(installed, provider, mattermost)
    needing = next(command for command in COMMANDS if command.scopes)
    provider.granted_scopes = tuple(scope for scope in AppProvider.scopes if scope not in needing.scopes)
    provider.codes["4/0Acode"] = provider.codes.pop(provider.issue_code())
    assert complete(plugin) == {"type": "ok"}
    plugin.stored[ALICE.id] = mattermost.stored[ALICE.id]  # what Mattermost now holds comes with the next call
    for call, _handler in needing.calls():  # its submit, and its lookups: none reaches the provider's API
        answer = plugin.call(call.path, dict(call.expand))
        assert answer["type"] == "error" and messages.text(f"permission.{needing.label}") in answer["text"], (call, answer)
    assert len(needing.calls()) > 1
    assert [hit for hit in provider.hits if "/calendar/" in hit.path] == []
