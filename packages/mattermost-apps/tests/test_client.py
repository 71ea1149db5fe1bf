"""The Apps client: `ClientFactory` and `AppsClient` against the REST semantics of the plugin's API (`server/httpin/` at
v1.2.2): URLs, Bearer tokens, empty bodies, `{}` for a missing key, the 8 KiB limit, the 2-character KV prefix, and
errors that carry a reason code and never Mattermost's own text."""

from __future__ import annotations

import json

import pytest
import requests

from mattermost_apps import CallRequest, ClientFactory, MattermostError, new_session

SITE_URL = "http://mattermost.test"
APPS_API = SITE_URL + "/plugins/com.mattermost.apps/api/v1"
ALICE_ID = "a1icea1icea1icea1icea1icea"
BOT_ID = "b0tb0tb0tb0tb0tb0tb0tb0tb0"

TOKEN = "usrtok00000000000000000000"
BOT_TOKEN = "bottok00000000000000000000"
CONTEXT = {
    "mattermost_site_url": SITE_URL,
    "bot_user_id": BOT_ID,
    "bot_access_token": BOT_TOKEN,
    "acting_user": {"id": ALICE_ID},
    "acting_user_access_token": TOKEN,
    "oauth2": {},
}
LIMIT = 8192


def call(**overrides):
    return CallRequest.parse({"path": "/x", "context": {**CONTEXT, **overrides}})


def factory(site_url=None):
    return ClientFactory(new_session(user_agent="test-app"), 3.0, site_url)


@pytest.fixture
def apps():
    return factory().as_acting_user(call())


def json_of_size(size: int) -> str:
    """A JSON string value whose encoding is exactly `size` bytes."""
    return "x" * (size - 2)


# -- construction -------------------------------------------------------------------------------------


def test_as_acting_user_uses_the_acting_users_token(requests_mock):
    route = requests_mock.get(APPS_API + "/oauth2/user", text="")
    factory().as_acting_user(call()).get_oauth2_user()
    assert route.last_request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_as_bot_uses_the_bot_token(requests_mock):
    route = requests_mock.get(APPS_API + "/kv/k", json={})
    factory().as_bot(call()).kv_get("", "k")
    assert route.last_request.headers["Authorization"] == f"Bearer {BOT_TOKEN}"


@pytest.mark.parametrize(
    ("build", "missing", "which"),
    [
        (ClientFactory.as_acting_user, "acting_user_access_token", "acting_user_access_token"),
        (ClientFactory.as_bot, "bot_access_token", "bot_access_token"),
    ],
    ids=["acting user", "bot"],
)
def test_a_missing_token_is_refused_before_any_request(requests_mock, build, missing, which):
    with pytest.raises(MattermostError) as raised:
        build(factory(), call(**{missing: ""}))
    assert (raised.value.reason, raised.value.detail) == ("missing_token", which)
    assert requests_mock.request_history == []


def test_site_url_override_replaces_the_contexts(requests_mock):
    # Docker: the browser's site URL is not the one the app container reaches Mattermost at.
    route = requests_mock.post("http://mattermost:8065/plugins/com.mattermost.apps/api/v1/oauth2/user", text="")
    client = factory("http://mattermost:8065").as_acting_user(call())
    client.store_oauth2_user({"a": 1})
    assert route.call_count == 1


def test_a_trailing_slash_in_the_site_url_makes_no_double_slash(requests_mock):
    route = requests_mock.get(APPS_API + "/oauth2/user", text="")
    factory().as_acting_user(call(mattermost_site_url=SITE_URL + "/")).get_oauth2_user()
    assert route.last_request.url == APPS_API + "/oauth2/user"


def test_every_request_carries_the_timeout(apps, requests_mock):
    requests_mock.get(APPS_API + "/oauth2/user", text="")
    apps.get_oauth2_user()
    assert requests_mock.last_request.timeout == 3.0


# -- OAuth2 app and user ------------------------------------------------------------------------------


def test_store_oauth2_app_posts_the_whole_record(apps, requests_mock):
    route = requests_mock.post(APPS_API + "/oauth2/app", text="")
    record = {"client_id": "id", "client_secret": "secret", "remote_root_url": "https://x", "data": {"k": 1}}
    assert apps.store_oauth2_app(record) is None
    request = route.last_request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == record


def test_store_oauth2_user_none_sends_json_null(apps, requests_mock):
    # What "disconnect" stores: the plugin then leaves `user` out of the context.
    route = requests_mock.post(APPS_API + "/oauth2/user", text="")
    apps.store_oauth2_user(None)
    assert route.last_request.body == b"null"


def test_store_oauth2_user_sends_the_record(apps, requests_mock):
    route = requests_mock.post(APPS_API + "/oauth2/user", text="")
    apps.store_oauth2_user({"v": 1, "fernet": "abc"})
    assert json.loads(route.last_request.body) == {"v": 1, "fernet": "abc"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", None),
        ("   ", None),
        ("null", None),
        ('{"v":1,"fernet":"abc"}', {"v": 1, "fernet": "abc"}),
        ('"text"', "text"),
        ("[1,2]", [1, 2]),
    ],
    ids=["never stored (empty body)", "whitespace", "null", "object", "string", "array"],
)
def test_get_oauth2_user(apps, requests_mock, body, expected):
    # The Go driver fails with EOF on the empty body; nothing stored is not an error.
    route = requests_mock.get(APPS_API + "/oauth2/user", text=body)
    assert apps.get_oauth2_user() == expected
    assert route.last_request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_get_oauth2_user_that_is_not_json_is_an_error(apps, requests_mock):
    requests_mock.get(APPS_API + "/oauth2/user", text="<html>")
    with pytest.raises(MattermostError) as raised:
        apps.get_oauth2_user()
    assert (raised.value.reason, raised.value.operation) == ("bad_answer", "get_oauth2_user")


# -- KV -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "url"),
    [("", APPS_API + "/kv/state"), ("ab", APPS_API + "/kv/ab/state"), ("p", APPS_API + "/kv/p/state")],
    ids=["no prefix", "2-character prefix", "1-character prefix"],
)
def test_kv_urls(apps, requests_mock, prefix, url):
    route = requests_mock.get(url, json={"a": 1})
    assert apps.kv_get(prefix, "state") == {"a": 1}
    assert route.call_count == 1


def test_kv_get_of_a_missing_key_is_none(apps, requests_mock):
    requests_mock.get(APPS_API + "/kv/missing", json={})  # the plugin answers {} for a missing key
    assert apps.kv_get("", "missing") is None


@pytest.mark.parametrize("value", [0, "", [], False, "text", [1]], ids=repr)
def test_kv_get_returns_falsy_and_other_json_values(apps, requests_mock, value):
    requests_mock.get(APPS_API + "/kv/k", json=value)
    assert apps.kv_get("", "k") == value


@pytest.mark.parametrize(("answer", "expected"), [({"changed": True}, True), ({"changed": False}, False), ({}, False)])
def test_kv_set_posts_json_and_returns_changed(apps, requests_mock, answer, expected):
    route = requests_mock.post(APPS_API + "/kv/ab/k", json=answer)
    assert apps.kv_set("ab", "k", {"n": 1}) is expected
    assert json.loads(route.last_request.body) == {"n": 1}
    assert route.last_request.headers["Content-Type"] == "application/json"


def test_kv_delete(apps, requests_mock):
    route = requests_mock.delete(APPS_API + "/kv/ab/k", text="")
    assert apps.kv_delete("ab", "k") is None
    assert route.last_request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert route.last_request.body is None


@pytest.mark.parametrize(
    ("prefix", "key"),
    [("abc", "k"), ("my-app", "k"), ("é", "k"), ("", ""), ("ab", "a/b"), ("", "/")],
    ids=["3-character prefix", "docs' my-app prefix", "non-ascii prefix", "empty key", "slash in key", "slash key"],
)
@pytest.mark.parametrize("operation", ["get", "set", "delete"])
def test_kv_key_rules_are_checked_locally(apps, requests_mock, prefix, key, operation):
    # The plugin answers 500 for a prefix over 2 characters; a '/' would split the mux variable.
    with pytest.raises(ValueError):
        if operation == "get":
            apps.kv_get(prefix, key)
        elif operation == "set":
            apps.kv_set(prefix, key, 1)
        else:
            apps.kv_delete(prefix, key)
    assert requests_mock.request_history == []


# -- the 8 KiB limit ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "url"),
    [
        (lambda apps, value: apps.store_oauth2_user(value), APPS_API + "/oauth2/user"),
        (lambda apps, value: apps.store_oauth2_app({"data": value}), APPS_API + "/oauth2/app"),
        (lambda apps, value: apps.kv_set("", "k", value), APPS_API + "/kv/k"),
    ],
    ids=["oauth2 user", "oauth2 app", "kv"],
)
def test_over_8_kib_is_refused_locally_and_nothing_is_sent(apps, requests_mock, operation, url):
    requests_mock.post(url, json={"changed": True})
    with pytest.raises(MattermostError) as raised:
        operation(apps, "x" * LIMIT)
    size, unit = raised.value.detail.split()
    assert raised.value.reason == "too_large" and unit == "bytes" and int(size) > LIMIT
    assert requests_mock.request_history == []


def test_exactly_8_kib_is_sent(apps, requests_mock):
    route = requests_mock.post(APPS_API + "/oauth2/user", text="")
    apps.store_oauth2_user(json_of_size(LIMIT))
    assert len(route.last_request.body) == LIMIT


def test_the_limit_counts_utf8_bytes_not_characters(apps, requests_mock):
    requests_mock.post(APPS_API + "/oauth2/user", text="")
    with pytest.raises(MattermostError, match="too_large"):
        apps.store_oauth2_user("é" * 1400)  # json.dumps escapes it to \u00e9: 6 bytes a character


def test_a_long_direct_message_is_not_limited_to_8_kib(apps, requests_mock):
    requests_mock.post(SITE_URL + "/api/v4/channels/direct", json={"id": "c"})
    posts = requests_mock.post(SITE_URL + "/api/v4/posts", json={"id": "p"})
    apps.send_direct_message(BOT_ID, ALICE_ID, "m" * 10_000)
    assert posts.call_count == 1


# -- errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "reason", "detail"),
    [
        (401, "user ID is required: unauthorized", "refused", "unauthorized"),
        (401, "not an app session: unauthorized", "refused", "unauthorized"),
        (403, "forbidden", "refused", "forbidden"),
        (400, "payload is not valid JSON: invalid input", "failed", "invalid input"),
        (500, "size limit of 8Kb exceeded", "failed", ""),
        (404, "404 page not found", "failed", ""),
        (401, "", "refused", ""),
        (502, "<html>an attacker's page: unauthorized?</html>", "failed", ""),
    ],
    ids=["401 no user", "401 not an app", "403", "400", "500 size", "404 plugin missing", "401 empty body", "502 html"],
)
def test_error_answers_carry_a_reason_and_never_mattermosts_text(apps, requests_mock, caplog, status, body, reason, detail):
    requests_mock.post(APPS_API + "/oauth2/user", status_code=status, text=body)
    with pytest.raises(MattermostError) as raised:
        apps.store_oauth2_user(None)
    assert (raised.value.reason, raised.value.operation, raised.value.status) == (reason, "store_oauth2_user", status)
    # Only the plugin's sentinel word is kept: an upstream body never reaches a user or the log.
    assert raised.value.detail == detail
    if body and body != detail:
        assert body not in str(raised.value) and body not in caplog.text


@pytest.mark.parametrize(
    "exc",
    [requests.ConnectionError, requests.ConnectTimeout, requests.ReadTimeout],
    ids=["connection error", "connect timeout", "read timeout"],
)
def test_unreachable_mattermost_is_status_0(apps, requests_mock, exc):
    requests_mock.post(APPS_API + "/oauth2/user", exc=exc)
    with pytest.raises(MattermostError) as raised:
        apps.store_oauth2_user(None)
    assert (raised.value.reason, raised.value.status) == ("unreachable", 0)


def test_error_messages_never_contain_the_token(apps, requests_mock):
    requests_mock.post(APPS_API + "/oauth2/user", status_code=401, text="token invalid")
    with pytest.raises(MattermostError) as raised:
        apps.store_oauth2_user(None)
    assert TOKEN not in str(raised.value)


# -- direct message -----------------------------------------------------------------------------------


def test_send_direct_message_opens_the_channel_then_posts(requests_mock):
    bot = factory().as_bot(call())
    channel = requests_mock.post(SITE_URL + "/api/v4/channels/direct", json={"id": "chan1"})
    posts = requests_mock.post(SITE_URL + "/api/v4/posts", json={"id": "post1"})
    assert bot.send_direct_message(BOT_ID, ALICE_ID, "hello") == "post1"
    assert json.loads(channel.last_request.body) == [BOT_ID, ALICE_ID]
    assert json.loads(posts.last_request.body) == {"channel_id": "chan1", "message": "hello"}
    assert {r.headers["Authorization"] for r in requests_mock.request_history} == {f"Bearer {BOT_TOKEN}"}


@pytest.mark.parametrize(
    "answer",
    [{"json": {}}, {"json": {"id": 5}}, {"text": ""}, {"status_code": 403, "text": "no"}],
    ids=["no id", "id not a string", "empty body", "403"],
)
def test_a_failed_channel_open_posts_nothing(requests_mock, answer):
    bot = factory().as_bot(call())
    requests_mock.post(SITE_URL + "/api/v4/channels/direct", **answer)
    posts = requests_mock.post(SITE_URL + "/api/v4/posts", json={"id": "post1"})
    with pytest.raises(MattermostError):
        bot.send_direct_message(BOT_ID, ALICE_ID, "hello")
    assert posts.call_count == 0


def test_a_post_answer_without_id_returns_empty(requests_mock):
    bot = factory().as_bot(call())
    requests_mock.post(SITE_URL + "/api/v4/channels/direct", json={"id": "chan1"})
    requests_mock.post(SITE_URL + "/api/v4/posts", status_code=201, text="")
    assert bot.send_direct_message(BOT_ID, ALICE_ID, "hello") == ""
