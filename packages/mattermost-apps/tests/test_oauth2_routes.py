"""The plugin's browser routes for remote OAuth2: state rules, 307, values, success page, plain-text errors.

Plugin v1.2.2: `server/httpin/oauth2.go`, `server/proxy/invoke_oauth2.go`, `server/store/oauth2.go` (whose
`server/store/oauth2_test.go` gives the state format and the `forbidden` / `state mismatch: forbidden` texts)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from stubs import StubApp, install, session_token

from mattermost_apps.testing.emulator.plugin import SUCCESS_PAGE
from mattermost_apps.testing.emulator.store import Store

pytestmark = pytest.mark.e2e

APP = "/plugins/com.mattermost.apps/apps/stub-app"
CONNECT, COMPLETE = APP + "/oauth2/remote/connect", APP + "/oauth2/remote/complete"
PROVIDER = "https://provider.test/authorize"
STATE = re.compile(r"^[A-Za-z0-9_-]{20}\.([a-z0-9]{26})$")


@pytest.fixture
def installed(emu: FlaskClient, stub: StubApp) -> StubApp:
    assert install(emu, stub)["status"] == 200
    stub.responses["/oauth2/connect"] = {"type": "ok", "data": PROVIDER + "?client_id=c"}
    return stub


def sign_in(emu: FlaskClient, username: str) -> None:
    emu.set_cookie("MMAUTHTOKEN", session_token(emu, username))


def connect(emu: FlaskClient, installed: StubApp) -> str:
    response = emu.get(CONNECT)
    assert response.status_code == 307
    assert response.headers["Location"] == PROVIDER + "?client_id=c"
    return installed.last("/oauth2/connect")["body"]["values"]["state"]


def test_connect_makes_a_state_bound_to_the_user_and_redirects_307(emu: FlaskClient, installed: StubApp, store: Store) -> None:
    sign_in(emu, "alice")
    state = connect(emu, installed)
    match = STATE.match(state)
    assert match and match.group(1) == store.user_by_name("alice").id  # type: ignore[union-attr]
    body = installed.last("/oauth2/connect")["body"]
    assert body["values"] == {"state": state}
    assert body["expand"] == {"acting_user": "summary", "acting_user_access_token": "all", "oauth2_app": "all"}
    assert body["context"]["acting_user"]["username"] == "alice"
    assert connect(emu, installed) != state  # a fresh state each time


def test_complete_passes_every_query_parameter_and_shows_the_fixed_page(emu: FlaskClient, installed: StubApp) -> None:
    sign_in(emu, "alice")
    state = connect(emu, installed)
    response = emu.get(COMPLETE, query_string=f"state={state}&code=abc&iss=http%3A%2F%2Fop&scope=a+b&code=second")
    assert (response.status_code, response.mimetype) == (200, "text/html")
    assert response.get_data(as_text=True) == SUCCESS_PAGE
    assert "Completed connecting your account. Please close this window." in SUCCESS_PAGE
    body = installed.last("/oauth2/complete")["body"]
    assert body["values"] == {"state": state, "code": "abc", "iss": "http://op", "scope": "a b"}
    assert body["expand"]["oauth2_user"] == "all"


def test_a_replayed_state_is_403_and_the_app_is_not_called(emu: FlaskClient, installed: StubApp) -> None:
    sign_in(emu, "alice")
    state = connect(emu, installed)
    assert emu.get(COMPLETE, query_string={"state": state, "code": "1"}).status_code == 200
    replay = emu.get(COMPLETE, query_string={"state": state, "code": "1"})
    assert (replay.status_code, replay.get_data(as_text=True).strip()) == (403, "state mismatch: forbidden")
    assert replay.mimetype == "text/plain"
    assert installed.paths().count("/oauth2/complete") == 1


def test_a_state_for_another_user_is_403(emu: FlaskClient, installed: StubApp) -> None:
    sign_in(emu, "alice")
    state = connect(emu, installed)
    sign_in(emu, "bob")
    response = emu.get(COMPLETE, query_string={"state": state, "code": "1"})
    assert (response.status_code, response.get_data(as_text=True).strip()) == (403, "forbidden")
    sign_in(emu, "alice")  # the refusal did not consume alice's state
    assert emu.get(COMPLETE, query_string={"state": state, "code": "1"}).status_code == 200


def test_an_expired_state_is_403(emu: FlaskClient, installed: StubApp) -> None:
    sign_in(emu, "alice")
    state = connect(emu, installed)
    assert emu.post("/_emulator/states/expire").get_json() == {"expired": 1}
    response = emu.get(COMPLETE, query_string={"state": state, "code": "1"})
    assert (response.status_code, response.get_data(as_text=True).strip()) == (403, "state mismatch: forbidden")
    assert "/oauth2/complete" not in installed.paths()


@pytest.mark.parametrize(
    ("query", "status", "text"),
    [
        ("code=1", 401, "no state arg in the URL: unauthorized"),
        ("state=&code=1", 401, "no state arg in the URL: unauthorized"),
        ("state=abc&code=1", 403, "forbidden"),
        ("state=a.b.c&code=1", 403, "forbidden"),
        ("state=AAAAAAAAAAAAAAAAAAAA.alice000000000000000000000&code=1", 403, "state mismatch: forbidden"),
    ],
)
def test_bad_states(emu: FlaskClient, installed: StubApp, query: str, status: int, text: str) -> None:
    sign_in(emu, "alice")
    response = emu.get(COMPLETE, query_string=query)
    assert (response.status_code, response.get_data(as_text=True).strip()) == (status, text)
    assert "/oauth2/complete" not in installed.paths()


def test_provider_errors_still_reach_the_app_and_its_error_is_a_plain_500(emu: FlaskClient, installed: StubApp) -> None:
    installed.responses["/oauth2/complete"] = {"type": "error", "text": "You cancelled the consent at the provider."}
    sign_in(emu, "alice")
    state = connect(emu, installed)
    response = emu.get(COMPLETE, query_string={"error": "access_denied", "state": state})
    assert (response.status_code, response.mimetype) == (500, "text/plain")
    assert response.get_data(as_text=True).strip() == "You cancelled the consent at the provider."
    assert installed.last("/oauth2/complete")["body"]["values"] == {"error": "access_denied", "state": state}


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        ({"type": "error", "text": "Not configured."}, "Not configured."),
        ({"type": "form", "form": {}}, 'oauth2: unexpected response type from the app: "form"'),
        (
            {"type": "ok", "data": {"url": "x"}},
            "oauth2: unexpected data type from the app: map[string]interface {}, expected string (connect URL)",
        ),
        ({"type": "ok"}, "oauth2: unexpected data type from the app: <nil>, expected string (connect URL)"),
    ],
)
def test_connect_errors_are_plain_500s(emu: FlaskClient, installed: StubApp, answer: dict, text: str) -> None:
    installed.responses["/oauth2/connect"] = answer
    sign_in(emu, "alice")
    response = emu.get(CONNECT)
    assert (response.status_code, response.get_data(as_text=True).strip()) == (500, text)


def test_required_expand_without_a_signed_in_user_fails(emu: FlaskClient, stub: StubApp) -> None:
    stub.manifest_overrides["get_oauth2_connect_url"] = {"path": "/my-connect", "expand": {"acting_user": "+summary"}}
    install(emu, stub)
    response = emu.get(CONNECT)
    assert (response.status_code, response.get_data(as_text=True).strip()) == (
        500,
        "failed to expand context: failed to expand required acting_user: no user ID to expand",
    )
    assert "/my-connect" not in stub.paths()


def test_a_declared_connect_call_replaces_the_default_expand(emu: FlaskClient, stub: StubApp) -> None:
    stub.manifest_overrides["get_oauth2_connect_url"] = {"path": "/my-connect", "expand": {"oauth2_app": "all"}}
    stub.responses["/my-connect"] = {"type": "ok", "data": PROVIDER}
    install(emu, stub)
    sign_in(emu, "alice")
    assert emu.get(CONNECT).headers["Location"] == PROVIDER
    context = stub.last("/my-connect")["body"]["context"]
    assert "acting_user_access_token" not in context and "acting_user" not in context
    assert parse_qs(urlsplit(context["oauth2"]["complete_url"]).query) == {}


def test_an_app_without_remote_oauth2_is_refused(emu: FlaskClient, stub: StubApp) -> None:
    stub.manifest_overrides["requested_permissions"] = ["act_as_user", "act_as_bot"]
    install(emu, stub)
    sign_in(emu, "alice")
    response = emu.get(CONNECT)
    # the connect route says "OAuth2", with no sentinel: a plain 500; the complete route a 401
    assert (response.status_code, response.get_data(as_text=True).strip()) == (500, "stub-app is not authorized to use OAuth2")
    response = emu.get(COMPLETE, query_string={"state": "x.y", "code": "1"})
    assert (response.status_code, response.get_data(as_text=True).strip()) == (
        401,
        "stub-app is not authorized to use remote OAuth2: unauthorized",
    )
    assert "/oauth2/connect" not in stub.paths() and "/oauth2/complete" not in stub.paths()
