"""Robustness: every call route answers HTTP 200 with a CallResponse whatever happens; outbound
calls share one session with timeouts; secrets and tokens stay out of the logs (mattermost_apps/flask_calls.py)."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest

import app as app_module
from app import create_app
from commands import COMMANDS
from handlers import build_router
from mattermost_apps import CallRouter
from mattermost_apps.testing import DEFAULT_COMPLETE_EXPAND, DEFAULT_CONNECT_EXPAND, JWT_HEADER, sign_jwt
from tests.conftest import (
    ADMIN,
    ADMIN_TOKEN,
    ALICE,
    ALICE_TOKEN,
    APP_SECRET,
    BOT_TOKEN,
    CALENDAR_API,
    CLIENT_ID,
    CLIENT_SECRET,
    CONFIGURE_SUBMIT_EXPAND,
    REVOKE_URL,
    TOKEN_URL,
    TOKEN_USE_EXPAND,
    USERINFO_URL,
    make_settings,
    paths,
)

from .conftest import STATE

GENERIC = "The app failed unexpectedly while handling this command; the admin can find the reason in its log."
CALL_PATHS = sorted(build_router(create_app(make_settings()).extensions["services"]).handlers)
SECRET_DETAIL = "boom-detail-with-token-ya29.leak"


def signed(acting_user_id: str = "") -> dict[str, str]:
    return {JWT_HEADER: "Bearer " + sign_jwt(APP_SECRET, acting_user_id), "Content-Type": "application/json"}


def assert_call_response_error(response):
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body, dict) and body["type"] == "error" and isinstance(body["text"], str) and body["text"]
    assert "Traceback" not in body["text"] and "<html" not in response.get_data(as_text=True).lower()
    return body


# -- a handler raises ---------------------------------------------------------------------------------


def test_the_route_table_covers_every_call_path():
    # The calls the plugin makes by itself, the configure form's submit, and each command's calls (submit, lookups).
    plugin_calls = {paths.BINDINGS, paths.PING, paths.INSTALL, paths.OAUTH2_CONNECT, paths.OAUTH2_COMPLETE}
    command_calls = {call.path for command in COMMANDS for call, _handler in command.calls()}
    assert len(command_calls) > len(COMMANDS)  # a command has a lookup
    assert set(CALL_PATHS) == plugin_calls | {paths.CONFIGURE_SUBMIT} | command_calls


@pytest.mark.parametrize("path", CALL_PATHS)
def test_every_call_route_answers_a_200_error_when_its_handler_raises(monkeypatch, installed, path, caplog):
    def exploding_router(services) -> CallRouter:
        router = build_router(services)
        for name in router.handlers:
            router.handlers[name] = raising_handler(name)
        return router

    monkeypatch.setattr(app_module, "build_router", exploding_router)
    client = create_app(make_settings()).test_client()
    response = client.post(path, data=json.dumps({"path": path, "context": {"oauth2": {}}}), headers=signed())
    body = assert_call_response_error(response)
    assert body == {"type": "error", "text": GENERIC}
    assert SECRET_DETAIL in caplog.text  # the admin finds the reason in the log


def raising_handler(path):
    def handler(call, services):
        raise RuntimeError(SECRET_DETAIL)

    handler.__name__ = "raise_in_" + path.strip("/").replace("/", "_")
    return handler


class Explodes:
    def __getattr__(self, name):
        raise RuntimeError(SECRET_DETAIL)

    def __call__(self, *args, **kwargs):
        raise RuntimeError(SECRET_DETAIL)


@pytest.mark.parametrize(
    ("path", "expand", "user", "values", "target"),
    [
        (paths.BINDINGS, {"acting_user": "summary", "oauth2_app": "all", "oauth2_user": "all"}, ALICE, None, "tokens"),
        (paths.OAUTH2_CONNECT, DEFAULT_CONNECT_EXPAND, ALICE, {"state": STATE}, "provider"),
        (paths.OAUTH2_COMPLETE, DEFAULT_COMPLETE_EXPAND, ALICE, {"state": STATE, "code": "c"}, "provider"),
        (paths.CONFIGURE_SUBMIT, CONFIGURE_SUBMIT_EXPAND, ADMIN, {"client_id": "i", "client_secret": "s"}, "mattermost"),
        (paths.CONNECT, TOKEN_USE_EXPAND, ALICE, None, "tokens"),
        (paths.DISCONNECT, TOKEN_USE_EXPAND, ALICE, None, "tokens"),
        (paths.INFO, TOKEN_USE_EXPAND, ALICE, None, "tokens"),
        (paths.EVENTS, TOKEN_USE_EXPAND, ALICE, None, "tokens"),
        (paths.HELP, TOKEN_USE_EXPAND, ALICE, None, "tokens"),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("/") else None,
)
def test_a_service_that_raises_gives_a_generic_error_without_details(
    plugin, services, requests_mock, path, expand, user, values, target
):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    object.__setattr__(services, target, Explodes())  # Services is frozen; this is the one place we reach in
    result = plugin.call(path, expand, user=user, values=values)
    assert result == {"type": "error", "text": GENERIC}
    assert SECRET_DETAIL not in json.dumps(result)
    assert requests_mock.request_history == []


# -- bad bodies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected_text"),
    [
        (b"", "The request body is empty: expected a CallRequest JSON object."),
        (b"null", "The request body is empty: expected a CallRequest JSON object."),
        (b"{not json", "The request body is not valid JSON."),
        (b"\xff\xfe{}", "The request body is not valid JSON."),
        (b"[" * 50_000 + b"]" * 50_000, None),
        (b"1" * 60_000, "The request body is not valid JSON."),
        (b"[]", "The request body must be a JSON object (a CallRequest)."),
        (b'"text"', "The request body must be a JSON object (a CallRequest)."),
        (b"42", "The request body must be a JSON object (a CallRequest)."),
        (b'{"values": []}', "The field values must be an object."),
        (b'{"values": "x"}', "The field values must be an object."),
        (b'{"context": "x"}', "The field context must be an object."),
        (b'{"context": {"oauth2": []}}', "The field context.oauth2 must be an object."),
        (b'{"context": {"oauth2": {"client_id": 5}}}', "The field context.oauth2.client_id must be a string."),
        (b'{"context": {"acting_user": "alice"}}', "The field context.acting_user must be an object."),
        (b'{"context": {"acting_user": {"roles": ["system_admin"]}}}', "The field context.acting_user.roles must be a string."),
        (b'{"context": {"mattermost_site_url": 1}}', "The field context.mattermost_site_url must be a string."),
        (b'{"expand": []}', "The field expand must be an object."),
        (b'{"path": 5}', "The field path must be a string."),
    ],
    ids=[
        "empty",
        "null",
        "malformed",
        "bad utf-8",
        "deep nesting",
        "huge integer",
        "array",
        "string",
        "number",
        "values array",
        "values string",
        "context string",
        "oauth2 array",
        "client_id number",
        "acting_user string",
        "roles list",
        "site url number",
        "expand array",
        "path number",
    ],
)
@pytest.mark.parametrize("path", [paths.BINDINGS, paths.CONFIGURE_SUBMIT, paths.OAUTH2_COMPLETE])
def test_a_bad_body_is_a_200_error_with_one_sentence(client, requests_mock, path, body, expected_text):
    body_json = assert_call_response_error(client.post(path, data=body, headers=signed()))
    if expected_text is not None:
        assert body_json["text"] == expected_text
    assert requests_mock.request_history == []


def test_an_expand_level_of_the_wrong_type_is_a_200_error(client):
    body = assert_call_response_error(client.post(paths.HELP, data=b'{"expand": {"oauth2_app": 1}}', headers=signed()))
    assert "expand level" in body["text"]


@pytest.mark.parametrize(
    "values",
    [
        {"client_id": ["a"], "client_secret": "s"},
        {"client_id": {"value": ["a"]}, "client_secret": "s"},
        {"client_id": "i", "client_secret": {"nested": {"x": 1}}},
    ],
    ids=["list", "select with list value", "object without value"],
)
def test_wrong_value_types_are_a_200_error_and_nothing_is_stored(plugin, requests_mock, values):
    result = plugin.call(paths.CONFIGURE_SUBMIT, CONFIGURE_SUBMIT_EXPAND, user=ADMIN, values=values)
    assert result["type"] == "error"
    assert requests_mock.request_history == []


def test_unicode_and_long_strings_in_values_are_handled(plugin, requests_mock):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    result = plugin.call(paths.OAUTH2_CONNECT, DEFAULT_CONNECT_EXPAND, values={"state": "é☃\u0000" + "x" * 20_000})
    assert result["type"] == "ok"


@pytest.mark.parametrize(
    ("path", "status"), [("/nope", 404), ("/oauth2", 404), ("/commands", 404), ("/static/icon.png", 405), ("/manifest.json", 405)]
)
def test_a_post_to_a_path_that_is_no_call_is_a_real_http_error(client, path, status):
    # Not a call route: the plugin shows "<url>: not found" for a 404, which is the truth.
    response = client.post(path, data=b"{}", headers=signed())
    assert response.status_code == status
    assert response.mimetype != "application/json"


def test_an_unknown_get_path_stays_a_plain_404(client):
    assert client.get("/nope").status_code == 404


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [("/manifest.json", "install.manifest_json"), ("/static/icon.png", "install.static_file"), ("/", "install.home")],
)
def test_a_get_route_that_raises_answers_500_not_a_call_response(app, path, endpoint):
    # A health check must fail on a broken route: the CallResponse error handler covers call routes only.
    app.view_functions[endpoint] = Explodes()
    response = app.test_client().get(path)
    assert response.status_code == 500
    assert b'"type"' not in response.data


def test_a_body_over_64_kib_is_a_200_error(client, requests_mock):
    body = json.dumps({"path": paths.HELP, "values": {"pad": "x" * (64 * 1024)}})
    result = assert_call_response_error(client.post(paths.HELP, data=body, headers=signed()))
    assert result["text"] == "The request body is larger than 64 KiB."


def test_a_body_just_under_64_kib_is_read(plugin):
    body = plugin.request(paths.HELP, {"oauth2_app": "all"}, user=None)
    body["values"] = {"pad": ""}
    body["values"]["pad"] = "x" * (64 * 1024 - len(json.dumps(body)))
    data = json.dumps(body)
    assert len(data) == 64 * 1024
    response = plugin.client.post(paths.HELP, data=data, headers=signed())
    assert response.get_json()["type"] == "ok"


def test_a_chunked_body_over_64_kib_is_a_200_error(client):
    body = b'{"values": {"pad": "' + b"x" * (70 * 1024) + b'"}}'
    # gunicorn marks a de-chunked stream as terminated; werkzeug reads it to the end (up to its limit) then.
    response = client.post(
        paths.HELP,
        input_stream=io.BytesIO(body),
        headers={**signed(), "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert assert_call_response_error(response)["text"] == "The request body is larger than 64 KiB."


# -- one session, with timeouts -------------------------------------------------------------------------


def test_provider_and_mattermost_share_one_session(services):
    assert services.provider._session is services.mattermost.session


def test_the_shared_session_retries_only_idempotent_requests(services):
    retry = services.mattermost.session.get_adapter("https://oauth2.test/").max_retries
    assert {"GET", "HEAD"} <= set(retry.allowed_methods)
    assert "POST" not in retry.allowed_methods and "PUT" not in retry.allowed_methods


def test_every_outbound_call_of_the_whole_flow_carries_the_timeout(plugin, requests_mock, settings, cipher, caplog):
    caplog.set_level(logging.DEBUG)
    seen = run_whole_flow(plugin, requests_mock, cipher)
    assert len(seen) >= 10
    for request in seen:
        if "grant_type=refresh_token" in str(request.body or ""):
            # A refresh waits as long as the call can: a rotating provider spends the old refresh token either way.
            assert settings.http_timeout < request.timeout <= settings.call_deadline, request.timeout
        else:
            assert request.timeout == settings.http_timeout, (request.method, request.url)


def test_no_secret_or_token_reaches_the_log_at_debug(plugin, requests_mock, cipher, caplog):
    plugin.client = create_app(make_settings(log_level="DEBUG")).test_client()
    caplog.set_level(logging.DEBUG)
    run_whole_flow(plugin, requests_mock, cipher)
    assert caplog.records  # the app did log
    for secret in (
        CLIENT_SECRET,
        APP_SECRET,
        ADMIN_TOKEN,
        ALICE_TOKEN,
        BOT_TOKEN,
        "ya29.first-access",
        "1//first-refresh",
        "ya29.second-access",
        "4/0Abc-code",
        STATE,
    ):
        assert secret not in caplog.text, secret


def run_whole_flow(plugin, requests_mock, cipher):
    """Configure, connect, complete, info, a stale refresh, events, disconnect; returns every outbound request."""
    requests_mock.post(plugin.installed.site_url + "/plugins/com.mattermost.apps/api/v1/oauth2/app", text="")
    stored = requests_mock.post(plugin.installed.site_url + "/plugins/com.mattermost.apps/api/v1/oauth2/user", text="")
    requests_mock.post(plugin.installed.site_url + "/api/v4/channels/direct", json={"id": "c"})
    requests_mock.post(plugin.installed.site_url + "/api/v4/posts", json={"id": "p"})
    requests_mock.post(
        TOKEN_URL,
        [
            {
                "json": {
                    "access_token": "ya29.first-access",
                    "refresh_token": "1//first-refresh",
                    "expires_in": 3599,
                    "token_type": "Bearer",
                }
            },
            {"json": {"access_token": "ya29.second-access", "expires_in": 3599, "token_type": "Bearer"}},
        ],
    )
    requests_mock.get(USERINFO_URL, json={"sub": "1", "email": "a@gmail.com"})
    requests_mock.get(CALENDAR_API + "/calendars/primary/events", json={"items": []})
    requests_mock.post(REVOKE_URL, text="")

    assert (
        plugin.call(
            paths.CONFIGURE_SUBMIT,
            CONFIGURE_SUBMIT_EXPAND,
            user=ADMIN,
            values={"client_id": "id", "client_secret": CLIENT_SECRET},
        )["type"]
        == "ok"
    )
    plugin.configure("id", CLIENT_SECRET)
    assert plugin.call(paths.OAUTH2_CONNECT, DEFAULT_CONNECT_EXPAND, values={"state": STATE})["type"] == "ok"
    result = plugin.call(paths.OAUTH2_COMPLETE, DEFAULT_COMPLETE_EXPAND, values={"state": STATE, "code": "4/0Abc-code"})
    assert result == {"type": "ok"}
    plugin.stored[ALICE.id] = stored.last_request.body
    assert plugin.call(paths.INFO, TOKEN_USE_EXPAND)["type"] == "ok"
    record = cipher.open(json.loads(plugin.stored[ALICE.id]), user_id=ALICE.id)
    plugin.store_user_record(
        ALICE, cipher.seal(type(record)(**{**record.__dict__, "expires_at": time.time() - 10}), user_id=ALICE.id)
    )
    assert plugin.call(paths.EVENTS, TOKEN_USE_EXPAND)["type"] == "ok"
    plugin.stored[ALICE.id] = stored.last_request.body
    assert plugin.call(paths.DISCONNECT, TOKEN_USE_EXPAND)["type"] == "ok"
    return list(requests_mock.request_history)
