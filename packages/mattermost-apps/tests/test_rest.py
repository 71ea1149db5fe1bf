"""The REST API in-process: tokens map to (app, user, admin?, bot?), texts and statuses as the plugin's
(`server/httpin/*.go`, `server/appservices/*.go`, `server/incoming/request.go` in mattermost/mattermost-plugin-apps at v1.2.2)."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from stubs import seed_app, session_token

from mattermost_apps.testing.emulator.plugin import Plugin
from mattermost_apps.testing.emulator.store import Store

API = "/plugins/com.mattermost.apps/api/v1"


@pytest.fixture
def app_tokens(plugin: Plugin, store: Store) -> dict[str, str]:
    """Tokens as minted for the app's calls: the bot's and each acting user's."""
    record = seed_app(plugin)
    tokens = {"bot": store.create_session(record.bot.id, record.app_id)}
    for name in ("sysadmin", "alice", "bob"):
        user = store.user_by_name(name)
        assert user is not None
        tokens[name] = store.create_session(user.id, record.app_id)
    return tokens


def bearer(token: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}"}


# -- /oauth2/app ------------------------------------------------------------------------------------------


def test_admin_app_token_replaces_the_whole_oauth2_app_record(emu: FlaskClient, app_tokens: dict[str, str]) -> None:
    first = {"client_id": "id-1", "client_secret": "secret-1", "remote_root_url": "https://x.test", "data": {"a": 1}}
    assert emu.post(API + "/oauth2/app", json=first, headers=bearer(app_tokens["sysadmin"])).status_code == 200
    response = emu.put(API + "/oauth2/app", json={"client_id": "id-2"}, headers=bearer(app_tokens["sysadmin"]))
    assert (response.status_code, response.data) == (200, b"")
    assert emu.get("/_emulator/oauth2_app").get_json() == {
        "remote_root_url": "",
        "client_id": "id-2",
        "client_secret": "",
        "data": None,
    }


@pytest.mark.parametrize("who", ["alice", "bot"])
def test_oauth2_app_refuses_non_admins_and_the_bot(emu: FlaskClient, app_tokens: dict[str, str], who: str) -> None:
    response = emu.post(API + "/oauth2/app", json={"client_id": "x"}, headers=bearer(app_tokens[who]))
    assert response.status_code == 401
    assert (
        response.get_data(as_text=True).strip()
        == "access to this operation is limited to users with permission: manage_system: unauthorized"
    )
    assert emu.get("/_emulator/oauth2_app").get_json() == {}


def test_oauth2_app_refuses_an_admins_own_session(emu: FlaskClient, app_tokens: dict[str, str]) -> None:
    response = emu.post(API + "/oauth2/app", json={"client_id": "x"}, headers=bearer(session_token(emu, "sysadmin")))
    assert response.status_code == 401
    assert response.get_data(as_text=True).strip() == "not an app session: unauthorized"


def test_oauth2_app_invalid_json_is_400(emu: FlaskClient, app_tokens: dict[str, str]) -> None:
    response = emu.post(API + "/oauth2/app", data=b"{tru", headers=bearer(app_tokens["sysadmin"]))
    assert response.status_code == 400
    text = response.get_data(as_text=True).strip()
    assert text.startswith("OAuth2App is not valid JSON: ") and text.endswith(": invalid input")


def test_oauth2_app_needs_the_remote_oauth2_permission(emu: FlaskClient, plugin: Plugin, store: Store) -> None:
    record = seed_app(plugin, requested_permissions=["act_as_user", "act_as_bot"])
    admin = store.user_by_name("sysadmin")
    assert admin is not None
    token = store.create_session(admin.id, record.app_id)
    response = emu.post(API + "/oauth2/app", json={"client_id": "x"}, headers=bearer(token))
    assert response.status_code == 401
    assert response.get_data(as_text=True).strip() == "stub-app is not authorized to use remote OAuth2: unauthorized"


# -- /oauth2/user -----------------------------------------------------------------------------------------


def test_oauth2_user_is_stored_and_returned_byte_for_byte(emu: FlaskClient, app_tokens: dict[str, str]) -> None:
    raw = b'{"b": 1,   "a": [true, null]}'
    assert emu.post(API + "/oauth2/user", data=raw, headers=bearer(app_tokens["alice"])).status_code == 200
    assert emu.get(API + "/oauth2/user", headers=bearer(app_tokens["alice"])).data == raw
    assert emu.get("/_emulator/oauth2_user/alice").get_json() == {"stored": raw.decode()}
    # scoped to the acting user
    assert emu.get(API + "/oauth2/user", headers=bearer(app_tokens["bob"])).data == b""


def test_get_oauth2_user_gives_an_empty_body_when_nothing_is_stored(emu: FlaskClient, app_tokens: dict[str, str]) -> None:
    response = emu.get(API + "/oauth2/user", headers=bearer(app_tokens["alice"]))
    assert (response.status_code, response.data) == (200, b"")
    assert emu.get("/_emulator/oauth2_user/alice").get_json() == {"stored": None}


def test_oauth2_user_refuses_the_bot(emu: FlaskClient, app_tokens: dict[str, str]) -> None:
    for method in (emu.post, emu.get):
        response = method(API + "/oauth2/user", data=b"{}", headers=bearer(app_tokens["bot"]))
        assert response.status_code == 401
        assert response.get_data(as_text=True).strip() == "@stub-app (Stub App): is a bot: unauthorized"


def test_oauth2_user_refuses_a_users_own_session(emu: FlaskClient, app_tokens: dict[str, str]) -> None:
    response = emu.post(API + "/oauth2/user", data=b"{}", headers=bearer(session_token(emu, "alice")))
    assert response.status_code == 401
    assert response.get_data(as_text=True).strip() == "not an app session: unauthorized"
    assert emu.get("/_emulator/oauth2_user/alice").get_json() == {"stored": None}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer unknown-token"}])
def test_no_valid_token_is_401_user_id_required(emu: FlaskClient, app_tokens: dict[str, str], headers: dict[str, str]) -> None:
    response = emu.get(API + "/oauth2/user", headers=headers)
    assert response.status_code == 401
    assert response.get_data(as_text=True).strip() == "user ID is required: unauthorized"


def test_the_bearer_prefix_is_case_insensitive(emu: FlaskClient, app_tokens: dict[str, str]) -> None:
    assert emu.post(API + "/oauth2/user", data=b"1", headers=bearer(app_tokens["alice"], "BEARER")).status_code == 200


@pytest.mark.parametrize(("size", "status"), [(8192, 200), (8193, 500), (9000, 500)])
def test_the_8kib_limit(emu: FlaskClient, app_tokens: dict[str, str], size: int, status: int) -> None:
    body = json.dumps("x" * (size - 2)).encode()
    assert len(body) == size
    for path in ("/oauth2/user", "/kv/key"):
        response = emu.post(API + path, data=body, headers=bearer(app_tokens["alice"]))
        assert response.status_code == status
        if status == 500:
            assert response.get_data(as_text=True).strip() == "size limit of 8Kb exceeded"
    expected = None if status == 500 else body.decode()
    assert emu.get("/_emulator/oauth2_user/alice").get_json() == {"stored": expected}


def test_oauth2_user_must_be_json(emu: FlaskClient, app_tokens: dict[str, str]) -> None:
    response = emu.post(API + "/oauth2/user", data=b"not json", headers=bearer(app_tokens["alice"]))
    assert response.status_code == 400
    assert response.get_data(as_text=True).strip() == "payload is not valid JSON: invalid input"


# -- KV ---------------------------------------------------------------------------------------------------


def test_kv_missing_key_is_an_empty_object(emu: FlaskClient, app_tokens: dict[str, str]) -> None:
    response = emu.get(API + "/kv/pr/nothing", headers=bearer(app_tokens["bot"]))
    assert (response.status_code, response.get_json(), response.mimetype) == (200, {}, "application/json")


def test_kv_set_get_delete(emu: FlaskClient, app_tokens: dict[str, str]) -> None:
    headers = bearer(app_tokens["bot"])
    response = emu.post(API + "/kv/pr/k1", data=b'{"v": 1}', headers=headers)
    assert response.get_json() == {"changed": True}
    assert emu.get(API + "/kv/pr/k1", headers=headers).get_json() == {"v": 1}
    assert emu.get(API + "/kv/k1", headers=headers).get_json() == {}  # another prefix, another slot
    assert emu.delete(API + "/kv/pr/k1", headers=headers).status_code == 200
    assert emu.get(API + "/kv/pr/k1", headers=headers).get_json() == {}


def test_kv_is_namespaced_per_token_owner(emu: FlaskClient, app_tokens: dict[str, str]) -> None:
    emu.put(API + "/kv/k", data=b'"bot value"', headers=bearer(app_tokens["bot"]))
    assert emu.get(API + "/kv/k", headers=bearer(app_tokens["alice"])).get_json() == {}
    assert emu.get(API + "/kv/k", headers=bearer(app_tokens["bot"])).get_json() == "bot value"


def test_kv_prefix_longer_than_two_characters_is_500(emu: FlaskClient, app_tokens: dict[str, str]) -> None:
    response = emu.post(API + "/kv/abc/key", data=b"1", headers=bearer(app_tokens["bot"]))
    assert response.status_code == 500
    assert response.get_data(as_text=True).strip() == 'prefix "abc" is longer than the limit of 2 ASCII characters'
    assert emu.post(API + "/kv/ab/key", data=b"1", headers=bearer(app_tokens["bot"])).status_code == 200


def test_kv_refuses_a_users_own_session(emu: FlaskClient, app_tokens: dict[str, str]) -> None:
    response = emu.get(API + "/kv/key", headers=bearer(session_token(emu, "alice")))
    assert response.status_code == 401
    assert response.get_data(as_text=True).strip() == "not an app session: unauthorized"


# -- /call without reaching the app -----------------------------------------------------------------------


def test_call_without_context_app_id_is_400(emu: FlaskClient, app_tokens: dict[str, str]) -> None:
    response = emu.post(API + "/call", json={"path": "/x", "context": {}}, headers=bearer(session_token(emu, "alice")))
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["/ping", "/oauth2/connect", "/oauth2/complete", "/webhook", "/oauth2//connect/"])
def test_call_refuses_forbidden_paths_before_calling_the_app(
    emu: FlaskClient, app_tokens: dict[str, str], store: Store, path: str
) -> None:
    response = emu.post(
        API + "/call", json={"path": path, "context": {"app_id": "stub-app"}}, headers=bearer(session_token(emu, "alice"))
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["type"] == "error" and "forbidden call path" in body["text"]
    assert body["app_metadata"] == {"bot_user_id": "b0t" + "0" * 23, "bot_username": "stub-app"}
    assert store.app_calls == []


# -- /api/v4: the bot's direct message --------------------------------------------------------------------


def test_bot_direct_message(emu: FlaskClient, app_tokens: dict[str, str], store: Store) -> None:
    alice = store.user_by_name("alice")
    assert alice is not None
    headers = bearer(app_tokens["bot"])
    channel = emu.post("/api/v4/channels/direct", json=["b0t" + "0" * 23, alice.id], headers=headers)
    assert channel.status_code == 201
    post = emu.post(
        "/api/v4/posts", json={"channel_id": channel.get_json()["id"], "message": "Connected **ok**"}, headers=headers
    )
    assert post.status_code == 201 and post.get_json()["user_id"] == "b0t" + "0" * 23
    assert emu.get("/_emulator/posts/alice").get_json() == [
        {"user_id": "b0t" + "0" * 23, "channel_id": channel.get_json()["id"], "message": "Connected **ok**"}
    ]
    assert emu.get("/_emulator/posts/bob").get_json() == []
    log = emu.get("/_emulator/log").get_json()["rest_calls"]
    assert [(c["method"], c["path"], c["status"], c["as"]) for c in log] == [
        ("POST", "/api/v4/channels/direct", 201, "bot"),
        ("POST", "/api/v4/posts", 201, "bot"),
    ]


def test_posting_in_a_channel_one_is_not_in_is_refused(emu: FlaskClient, app_tokens: dict[str, str], store: Store) -> None:
    alice, bob = store.user_by_name("alice"), store.user_by_name("bob")
    assert alice is not None and bob is not None
    channel = emu.post("/api/v4/channels/direct", json=[alice.id, bob.id], headers=bearer(app_tokens["alice"]))
    response = emu.post(
        "/api/v4/posts", json={"channel_id": channel.get_json()["id"], "message": "x"}, headers=bearer(app_tokens["bot"])
    )
    assert response.status_code == 403
    assert emu.post("/api/v4/posts", json={"channel_id": "x", "message": "x"}).status_code == 401


def test_users_me_by_cookie_and_by_header(emu: FlaskClient) -> None:
    token = session_token(emu, "bob")
    assert emu.get("/api/v4/users/me", headers=bearer(token)).get_json()["username"] == "bob"
    emu.set_cookie("MMAUTHTOKEN", token)
    assert emu.get("/api/v4/users/me").get_json()["username"] == "bob"


def test_rest_log_says_who_called(emu: FlaskClient, app_tokens: dict[str, str]) -> None:
    emu.get(API + "/oauth2/user", headers=bearer(app_tokens["alice"]))
    emu.get(API + "/kv/x", headers=bearer(app_tokens["bot"]))
    emu.get(API + "/kv/x", headers=bearer(session_token(emu, "alice")))
    emu.get(API + "/kv/x")
    assert [c["as"] for c in emu.get("/_emulator/log").get_json()["rest_calls"]] == ["user", "bot", "session", "none"]
    emu.post("/_emulator/log/clear")
    assert emu.get("/_emulator/log").get_json() == {"app_calls": [], "rest_calls": [], "events": []}


def test_reset_keeps_only_the_seeded_users(emu: FlaskClient, app_tokens: dict[str, str], store: Store) -> None:
    emu.post(API + "/oauth2/user", data=b"{}", headers=bearer(app_tokens["alice"]))
    emu.post("/_emulator/reset")
    assert store.app is None and store.oauth2_users == {}
    assert sorted(u.username for u in store.users.values()) == ["alice", "bob", "sysadmin"]
    assert emu.get(API + "/oauth2/user", headers=bearer(app_tokens["alice"])).status_code == 401
