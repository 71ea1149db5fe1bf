"""The REST API and the OAuth2 state, from the plugin's own tests at v1.2.2 (mattermost/mattermost-plugin-apps):
`test/restapitest/oauth2.go` (error texts, the 8 KiB limit), `test/restapitest/call.go` (forbidden call paths),
`test/restapitest/kv.go`, `server/store/oauth2_test.go` (state format, `forbidden`, `state mismatch: forbidden`),
and what `server/httpin/*.go` and `server/appservices/*.go` do in between (body read first, the checks' order,
refresh events only on change)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from stubs import seed_app, session_token

from mattermost_apps.testing.emulator.plugin import Plugin
from mattermost_apps.testing.emulator.store import Store

API = "/plugins/com.mattermost.apps/api/v1"
BOT_ID = "b0t" + "0" * 23


@pytest.fixture
def tokens(plugin: Plugin, store: Store) -> dict[str, str]:
    record = seed_app(plugin, display_name="tests App's OAuth2 APIs")
    found = {"bot": store.create_session(record.bot.id, record.app_id)}
    for name in ("sysadmin", "alice", "bob"):
        user = store.user_by_name(name)
        assert user is not None
        found[name] = store.create_session(user.id, record.app_id)
    return found


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def text_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.get_data(as_text=True).strip()


def events(emu: FlaskClient) -> list[dict[str, str]]:
    return emu.get("/_emulator/log").get_json()["events"]


# -- test/restapitest/oauth2.go ------------------------------------------------------------------------------

TEST_OAUTH2_USER = {"test_bool": True, "test_string": "test"}


def _large_json() -> bytes:
    # restapitest's largeJSON: a struct with a growing Fields list, until it is larger than 8192 bytes
    value: dict[str, Any] = {"Fields": None}
    while True:
        data = json.dumps(value, separators=(",", ":")).encode()
        if len(data) > 8192:
            return data
        value = {"Fields": [*(value["Fields"] or []), json.loads(json.dumps(value))]}


def test_users_can_store_and_get_oauth2_user(emu: FlaskClient, tokens: dict[str, str]) -> None:
    body = json.dumps(TEST_OAUTH2_USER, separators=(",", ":")).encode()
    assert emu.post(API + "/oauth2/user", data=body, headers=bearer(tokens["alice"])).status_code == 200
    assert emu.get(API + "/oauth2/user", headers=bearer(tokens["alice"])).data == b'{"test_bool":true,"test_string":"test"}'


@pytest.mark.parametrize(("method", "path"), [("post", "/oauth2/user"), ("get", "/oauth2/user"), ("post", "/oauth2/app")])
def test_unauthenticated_requests_are_rejected(emu: FlaskClient, tokens: dict[str, str], method: str, path: str) -> None:
    response = getattr(emu, method)(API + path, json=TEST_OAUTH2_USER)
    assert text_of(response) == (401, "user ID is required: unauthorized")


@pytest.mark.parametrize("path", ["/oauth2/user", "/oauth2/app", "/kv/key"])
def test_the_size_limit_is_checked_before_anything_else(emu: FlaskClient, tokens: dict[str, str], path: str) -> None:
    large = _large_json()
    assert len(large) > 8192
    assert text_of(emu.post(API + path, data=large, headers=bearer(tokens["sysadmin"]))) == (500, "size limit of 8Kb exceeded")
    # the body is read before the caller is even looked at (`LimitReadAll`, then the checks)
    assert text_of(emu.post(API + path, data=large)) == (500, "size limit of 8Kb exceeded")


def test_a_too_large_oauth2_user_leaves_the_previous_value(emu: FlaskClient, tokens: dict[str, str]) -> None:
    emu.post(API + "/oauth2/user", json=TEST_OAUTH2_USER, headers=bearer(tokens["alice"]))
    emu.post(API + "/oauth2/user", data=_large_json(), headers=bearer(tokens["alice"]))
    assert json.loads(emu.get(API + "/oauth2/user", headers=bearer(tokens["alice"])).data) == TEST_OAUTH2_USER


@pytest.mark.parametrize(
    ("path", "token", "expected"),
    [
        ("/oauth2/user", "alice", (400, "payload is not valid JSON: invalid input")),
        (
            "/oauth2/app",
            "sysadmin",
            (400, "OAuth2App is not valid JSON: invalid character 'e' in literal true (expecting 'r'): invalid input"),
        ),
        ("/kv/key", "alice", (400, "payload is not valid json: invalid input")),  # lower-case "json" there
    ],
)
def test_bodies_must_be_json(emu: FlaskClient, tokens: dict[str, str], path: str, token: str, expected: tuple[int, str]) -> None:
    assert text_of(emu.post(API + path, data=b"test", headers=bearer(tokens[token]))) == expected


def test_bots_have_no_access_to_oauth2_user(emu: FlaskClient, tokens: dict[str, str]) -> None:
    for method in (emu.get, emu.post):
        response = method(API + "/oauth2/user", json=TEST_OAUTH2_USER, headers=bearer(tokens["bot"]))
        assert text_of(response) == (401, "@stub-app (tests App's OAuth2 APIs): is a bot: unauthorized")


@pytest.mark.parametrize("who", ["bot", "alice"])
def test_users_and_bots_can_not_store_oauth2_app(emu: FlaskClient, tokens: dict[str, str], who: str) -> None:
    response = emu.post(API + "/oauth2/app", json={"client_id": "client-id"}, headers=bearer(tokens[who]))
    assert text_of(response) == (401, "access to this operation is limited to users with permission: manage_system: unauthorized")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"null", (200, "")),  # an empty record
        (
            b'"x"',
            (
                400,
                "OAuth2App is not valid JSON: json: cannot unmarshal string into Go value of type apps.OAuth2App: invalid input",
            ),
        ),
        (
            b'{"client_id": 5}',
            (
                400,
                "OAuth2App is not valid JSON: json: cannot unmarshal number into Go struct field OAuth2App.client_id"
                " of type string: invalid input",
            ),
        ),
    ],
)
def test_oauth2_app_is_decoded_as_go_does(
    emu: FlaskClient, tokens: dict[str, str], body: bytes, expected: tuple[int, str]
) -> None:
    assert text_of(emu.post(API + "/oauth2/app", data=body, headers=bearer(tokens["sysadmin"]))) == expected


def test_storing_the_oauth2_user_needs_remote_oauth2(emu: FlaskClient, plugin: Plugin, store: Store) -> None:
    record = seed_app(plugin, requested_permissions=["act_as_user", "act_as_bot"])
    alice = store.user_by_name("alice")
    assert alice is not None
    response = emu.post(API + "/oauth2/user", json={}, headers=bearer(store.create_session(alice.id, record.app_id)))
    assert text_of(response) == (401, "stub-app is not authorized to use remote OAuth2: unauthorized")
    assert store.oauth2_users == {}


def test_refresh_bindings_is_published_only_when_the_stored_bytes_change(
    emu: FlaskClient, tokens: dict[str, str], store: Store
) -> None:
    alice = store.user_by_name("alice")
    assert alice is not None
    for _ in range(2):
        assert emu.post(API + "/oauth2/user", data=b'{"a":1}', headers=bearer(tokens["alice"])).status_code == 200
    emu.post(API + "/oauth2/user", data=b'{"a": 1}', headers=bearer(tokens["alice"]))  # other bytes, same value
    assert events(emu) == [{"event": "refresh_bindings", "user_id": alice.id}] * 2
    emu.post("/_emulator/log/clear")
    for _ in range(2):
        emu.post(API + "/oauth2/app", data=b'{"client_id":"id","client_secret":"s"}', headers=bearer(tokens["sysadmin"]))
    assert events(emu) == [{"event": "refresh_bindings", "user_id": ""}]  # to everyone, once


# -- test/restapitest/kv.go ----------------------------------------------------------------------------------


def test_kv_get_set_get_delete_get(emu: FlaskClient, tokens: dict[str, str]) -> None:
    for who in ("bot", "alice"):
        headers = bearer(tokens[who])
        assert emu.get(API + "/kv/pp/test-key", headers=headers).data == b"{}"
        assert emu.post(API + "/kv/pp/test-key", json={"test-name": "test-data"}, headers=headers).get_json() == {"changed": True}
        assert emu.get(API + "/kv/pp/test-key", headers=headers).get_json() == {"test-name": "test-data"}
        assert emu.delete(API + "/kv/pp/test-key", headers=headers).status_code == 200
        assert emu.get(API + "/kv/pp/test-key", headers=headers).data == b"{}"


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_kv_rejects_unauthenticated_requests(emu: FlaskClient, tokens: dict[str, str], method: str) -> None:
    assert text_of(getattr(emu, method)(API + "/kv/p/id", data=b'"data"')) == (401, "user ID is required: unauthorized")


@pytest.mark.parametrize(("prefix", "status"), [("ab", 200), ("é", 200), ("abc", 500), ("éa", 500)])
def test_the_kv_prefix_limit_counts_bytes(emu: FlaskClient, tokens: dict[str, str], prefix: str, status: int) -> None:
    response = emu.post(API + f"/kv/{prefix}/key", data=b"1", headers=bearer(tokens["bot"]))
    assert response.status_code == status
    if status == 500:
        assert response.get_data(as_text=True).strip() == f'prefix "{prefix}" is longer than the limit of 2 ASCII characters'


# -- test/restapitest/call.go, server/httpin/call.go, server/proxy/invoke_call.go ---------------------------


@pytest.mark.parametrize(
    ("manifest", "path", "reason"),
    [
        ({}, "/ping", "path /ping defined as /ping"),
        ({}, "/oauth2/connect", "path /oauth2/connect defined as get_oauth2_connect_url.path"),
        ({}, "/oauth2/complete", "path /oauth2/complete defined as on_oauth2_complete.path"),
        ({}, "/webhook", "path /webhook defined as on_remote_webhook.path"),
        (
            {"on_install": {"path": "/prefix/on_install"}},
            "/prefix/on_install",
            "path /prefix/on_install defined as on_install.path",
        ),
        (
            {"on_uninstall": {"path": "/prefix/on_uninstall"}},
            "/prefix/on_uninstall",
            "path /prefix/on_uninstall defined as on_uninstall.path",
        ),
        ({"on_version_changed": "/prefix/v"}, "/prefix/v", "path /prefix/v defined as on_version_changed.path"),
        ({"on_enable": {"path": "/prefix/on_enable"}}, "/prefix/on_enable", "path /prefix/on_enable defined as on_enable.path"),
        (
            {"on_disable": {"path": "/prefix/on_disable"}},
            "/prefix/on_disable",
            "path /prefix/on_disable defined as on_disable.path",
        ),
        ({"get_oauth2_connect_url": {"path": "/prefix/c"}}, "/prefix/c", "path /prefix/c defined as get_oauth2_connect_url.path"),
        ({"on_oauth2_complete": {"path": "/prefix/d"}}, "/prefix/d", "path /prefix/d defined as on_oauth2_complete.path"),
        ({"on_remote_webhook": {"path": "/prefix/w"}}, "/prefix/w", "path /prefix/w defined as on_remote_webhook.path"),
        ({}, "/oauth2//connect/", "path /oauth2/connect defined as get_oauth2_connect_url.path"),  # cleaned first
        ({"get_oauth2_connect_url": {"path": "/prefix/c"}}, "/oauth2/connect", None),  # a declared call replaces the default
    ],
)
def test_forbidden_call_paths(
    emu: FlaskClient, plugin: Plugin, store: Store, manifest: dict[str, Any], path: str, reason: str | None
) -> None:
    seed_app(plugin, **manifest)
    response = emu.post(
        API + "/call", json={"path": path, "context": {"app_id": "stub-app"}}, headers=bearer(session_token(emu, "alice"))
    )
    body = response.get_json()
    assert response.status_code == 200 and body["type"] == "error"
    assert body["app_metadata"] == {"bot_user_id": BOT_ID, "bot_username": "stub-app"}
    if reason is None:
        assert "forbidden call path" not in body["text"]  # it went on to the (unreachable) app
    else:
        assert body["text"] == f"forbidden call path: {reason}"
        assert store.app_calls == []


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        (b"{", 400, "failed to unmarshal Call request: unexpected end of JSON input: invalid input"),
        (b'{"path": "/x", "context": {}}', 400, "app ID is not set in Call request: invalid input"),
        (
            b'{"context": {"app_id": "stub-app"}}',
            500,
            "Panicked while handling the request. Please check the server logs for more details.",
        ),
    ],
)
def test_call_request_errors(emu: FlaskClient, tokens: dict[str, str], body: bytes, status: int, text: str) -> None:
    assert text_of(emu.post(API + "/call", data=body, headers=bearer(session_token(emu, "alice")))) == (status, text)


def test_call_without_a_user_is_an_error_response(emu: FlaskClient, tokens: dict[str, str]) -> None:
    response = emu.post(API + "/call", json={"path": "/x", "context": {"app_id": "stub-app"}})
    assert response.status_code == 200
    assert response.get_json()["text"] == "user ID is required: unauthorized"


def test_call_path_must_start_with_a_slash(emu: FlaskClient, tokens: dict[str, str]) -> None:
    response = emu.post(
        API + "/call", json={"path": "x", "context": {"app_id": "stub-app"}}, headers=bearer(session_token(emu, "alice"))
    )
    assert response.get_json()["text"] == 'call path must start with a "/": "x": invalid input'


def test_bindings_without_a_user_are_null(emu: FlaskClient, tokens: dict[str, str]) -> None:
    assert emu.get(API + "/bindings").get_json() is None
    assert emu.get(API + "/bindings?test=1").get_json() == {
        "bindings": None,
        "error": "1 error occurred:\n\t* user ID is required: unauthorized\n\n",
    }


def test_no_granted_location_means_no_bindings_call(emu: FlaskClient, plugin: Plugin, store: Store) -> None:
    seed_app(plugin, requested_locations=[])
    answer = emu.get(API + "/bindings?test=1", headers=bearer(session_token(emu, "alice"))).get_json()
    assert answer == {"bindings": [], "error": "1 error occurred:\n\t* no location granted to bind to: forbidden\n\n"}
    assert store.app_calls == []


# -- server/store/oauth2_test.go -----------------------------------------------------------------------------

STATE_RE = re.compile(r"[A-Za-z0-9-_]+\.[A-Za-z0-9]")


def test_create_oauth2_state(store: Store) -> None:
    user_id = "userid-test"
    state = store.create_state(user_id)
    assert STATE_RE.match(state) and state.endswith("." + user_id)
    assert len(".o" + state) <= 50  # model.KeyValueKeyMaxRunes, with a 26-character user id too
    assert len(".o" + store.create_state("u" * 26)) <= 50


@pytest.mark.parametrize(
    ("state", "user", "expected"),
    [
        ("invalidformat", "userid-test", "forbidden"),
        ("nonexistent.value", "userid-test", "forbidden"),
        ("{state}", "idmismatch", "forbidden"),
        ("mismatched-random.userid-test", "userid-test", "state mismatch: forbidden"),
        ("{state}", "userid-test", None),
    ],
)
def test_validate_state_once(emu: FlaskClient, plugin: Plugin, store: Store, state: str, user: str, expected: str | None) -> None:
    from mattermost_apps.testing import User
    from mattermost_apps.testing.emulator.plugin import HTTPError

    seed_app(plugin)
    created = store.create_state("userid-test")
    values = {"state": state.format(state=created)}
    try:
        plugin.oauth2_complete("stub-app", User(id=user, username="u"), values)
        outcome = None
    except HTTPError as error:
        outcome = error.text
    if expected is None:  # the state passed; the (unreachable) app then failed the call with a 500
        assert outcome is not None and "failed to invoke via HTTP" in outcome
    else:
        assert outcome == expected
