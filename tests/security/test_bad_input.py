"""Item 4: whatever arrives on a call route, the answer is HTTP 200 with a CallResponse; bad input gets one clear
sentence of `type: error`, never a 500, a stack trace, HTML, or the app's catch-all "failed unexpectedly".

The catch-all error handler alone would already turn every crash into a 200, so these tests also fail when a
request reaches it (`unhandled error` in the log): bad input must be recognised, not merely survived.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from mattermost_apps.testing import call_headers, sign_jwt
from provider import AppProvider
from tests.conftest import ALICE, CLIENT_ID, CLIENT_SECRET, CONFIGURE_SUBMIT_EXPAND, TOKEN_USE_EXPAND
from tests.names import CMD

from .support import a_record, acting_id, seal

CALL_TYPES = ("ok", "error", "form", "navigate")
LIMIT = 64 * 1024


class Unhandled(logging.Handler):
    """Collects the records of the catch-all error handler (`unhandled error in call ...`)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def unhandled() -> Iterator[Unhandled]:
    handler = Unhandled()
    logger = logging.getLogger("mattermost_apps.flask_calls")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def check_call_response(status: int, content_type: str | None, raw: bytes) -> dict[str, Any]:
    """A valid CallResponse as the plugin decodes it; an error is one short sentence with no trace or markup."""
    assert status == 200, raw[:300]
    assert content_type and content_type.startswith("application/json"), (content_type, raw[:300])
    answer = json.loads(raw)
    assert isinstance(answer, dict) and answer.get("type") in CALL_TYPES, answer
    if answer["type"] == "error":
        text = answer.get("text")
        assert isinstance(text, str) and text.strip(), answer
        assert "\n" not in text and len(text) <= 400, text[:500]
        lowered = text.lower()
        assert "traceback" not in lowered and "<html" not in lowered and "<!doctype" not in lowered, text
    return answer


def post_raw(client, path: str, data: bytes, *, acting_user_id: str = ALICE.id, headers: dict | None = None):
    all_headers = {
        "Content-Type": "application/json",
        "Mattermost-App-Authorization": "Bearer "
        + sign_jwt(client.application.extensions["services"].settings.app_secret, acting_user_id),
    }
    all_headers.update(headers or {})
    response = client.post(path, data=data, headers=all_headers)
    return check_call_response(response.status_code, response.content_type, response.data)


# -- the body limit -------------------------------------------------------------------------------------


def padded_request(plugin, size: int) -> bytes:
    """A genuine help request padded (in a value) to exactly `size` bytes."""
    body = plugin.request("/commands/help", {"acting_user": "summary", "oauth2_app": "all"})
    body["values"] = {"pad": ""}
    base = len(json.dumps(body).encode())
    body["values"]["pad"] = "x" * (size - base)
    data = json.dumps(body).encode()
    assert len(data) == size
    return data


def test_a_body_at_the_limit_is_served_and_one_byte_more_is_refused(client, plugin, unhandled):
    assert post_raw(client, "/commands/help", padded_request(plugin, LIMIT))["type"] == "ok"
    answer = post_raw(client, "/commands/help", padded_request(plugin, LIMIT + 1))
    assert answer == {"type": "error", "text": "The request body is larger than 64 KiB."}
    assert not unhandled.records


def test_a_body_over_the_limit_without_content_length_is_refused(app: Flask, plugin, unhandled):
    """Chunked bodies (no Content-Length): the WSGI server marks the input terminated and werkzeug caps the read."""
    import io

    data = padded_request(plugin, LIMIT + 10)
    headers = call_headers(plugin.installed, json.loads(data))
    response = app.test_client().post(
        "/commands/help",
        input_stream=io.BytesIO(data),
        headers=headers,
        environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""},
    )
    answer = check_call_response(response.status_code, response.content_type, response.data)
    assert answer["text"] == "The request body is larger than 64 KiB."
    assert not unhandled.records


@pytest.fixture
def served_app(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def test_a_chunked_body_over_the_limit_is_refused_over_real_http(served_app: str, plugin, unhandled):
    data = padded_request(plugin, 3 * LIMIT)
    headers = call_headers(plugin.installed, json.loads(data))

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(data), 4096):
            yield data[i : i + 4096]

    response = requests.post(served_app + "/commands/help", data=chunks(), headers=headers, timeout=10)
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    answer = check_call_response(response.status_code, response.headers.get("Content-Type"), response.content)
    assert answer["text"] == "The request body is larger than 64 KiB."
    small = padded_request(plugin, 2000)
    response = requests.post(served_app + "/commands/help", data=iter([small]), headers=headers, timeout=10)
    assert check_call_response(response.status_code, response.headers.get("Content-Type"), response.content)["type"] == "ok"
    assert not unhandled.records


# -- malformed requests, one by one ---------------------------------------------------------------------


def call_routes(app: Flask) -> list[str]:
    return sorted(rule.rule for rule in app.url_map.iter_rules() if "POST" in (rule.methods or ()))


MALFORMED_BODIES = {
    "empty": b"",
    "not-json": b"{not json",
    "truncated": b'{"path": "/commands/info", "context": {',
    "bad-utf8": b'{"path": "\xff\xfe"}',
    "bom": b"\xef\xbb\xbf{}",
    "null": b"null",
    "array": b"[1, 2, 3]",
    "string": b'"a CallRequest"',
    "number": b"12345",
    "huge-integer": b'{"state": ' + b"9" * 5000 + b"}",
    "deep-nesting": b"[" * 5000 + b"]" * 5000,
    "nan": b'{"values": {"state": NaN}}',
    "lone-surrogate": b'{"values": {"state": "\\ud800"}, "context": {"acting_user": {"id": "\\udfff"}}}',
    "nul-bytes": b'{"values": {"state": "a\\u0000b", "code": "\\u0000"}}',
}


@pytest.mark.parametrize("body", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
def test_malformed_bodies_on_every_route(app, client, unhandled, body):
    for route in call_routes(app):
        post_raw(client, route, body, acting_user_id="")
    assert not unhandled.records, [r.getMessage() for r in unhandled.records]


WRONG_TYPES: dict[str, Any] = {
    "expand-list": ("expand", ["acting_user"]),
    "expand-level-number": ("expand", {"acting_user": 3}),
    "expand-key-huge": ("expand", {"k" * 50000: 1}),
    "values-list": ("values", ["state"]),
    "values-state-object": ("values", {"state": {"value": {"nested": True}}, "code": [1], "error": {"x": 1}}),
    "values-huge": ("values", {"state": "é" * 20000, "code": "😀" * 5000, "client_id": "a" * 30000}),
    "values-secret-number": ("values", {"client_id": 12, "client_secret": 1e308}),
    "context-string": ("context", "context"),
    "context-acting-user-list": ("context", {"acting_user": ["admin"]}),
    "context-acting-user-id-number": ("context", {"acting_user": {"id": 7, "roles": "system_admin"}}),
    "context-roles-list": ("context", {"acting_user": {"id": ALICE.id, "roles": ["system_admin"]}}),
    "context-timezone-string": ("context", {"acting_user": {"id": ALICE.id, "timezone": "Europe/Paris"}}),
    "context-oauth2-list": ("context", {"oauth2": []}),
    "context-oauth2-user-garbage": ("context", {"oauth2": {"client_id": "c", "client_secret": "s", "user": {"v": 1}}}),
    "context-oauth2-secret-number": ("context", {"oauth2": {"client_id": 1, "client_secret": None}}),
    "context-site-url-not-url": (
        "context",
        {"mattermost_site_url": "javascript:alert(1)", "acting_user_access_token": "t", "bot_access_token": "b"},
    ),
    "context-token-object": ("context", {"acting_user_access_token": {"t": 1}}),
    "state-anything": ("state", {"deep": [[[[{"x": "y" * 1000}]]]]}),
    "path-number": ("path", 42),
    "raw-command-list": ("raw_command", [CMD, "info"]),
}


@pytest.mark.parametrize("field_value", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_wrong_types_in_a_genuine_request_on_every_route(app, client, plugin, unhandled, field_value):
    name, value = field_value
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    plugin.store_user_record(ALICE, seal(a_record(expires_in=-5), "x" * 43 + "="))
    for route in call_routes(app):
        body = plugin.request(route, TOKEN_USE_EXPAND if "command" in route else CONFIGURE_SUBMIT_EXPAND)
        if name == "context":
            body["context"] = {**body["context"], **value} if isinstance(value, dict) else value
        else:
            body[name] = value
        post_raw(client, route, json.dumps(body).encode(), acting_user_id=acting_id(body))
    assert not unhandled.records, [r.getMessage() for r in unhandled.records]


def test_an_unknown_route_and_a_get_on_a_call_route(client, unhandled):
    # Neither is a call: plain HTTP errors (the plugin shows a 404 as "<url>: not found").
    assert client.post("/no/such/call", data=b"{}").status_code == 404
    assert client.get("/commands/info").status_code == 405
    assert not unhandled.records


def test_a_handler_that_raises_still_answers_200_with_one_sentence(app, plugin, monkeypatch):
    services = app.extensions["services"]

    def boom(*args, **kwargs):
        raise RuntimeError("ya29.secret-in-an-exception <html>")

    monkeypatch.setattr(services.tokens, "use", boom)
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    plugin.store_user_record(ALICE, seal(a_record(), "x" * 43 + "="))
    body = plugin.request("/commands/info", TOKEN_USE_EXPAND)
    response = plugin.client.post("/commands/info", data=json.dumps(body), headers=call_headers(plugin.installed, body))
    answer = check_call_response(response.status_code, response.content_type, response.data)
    assert answer["type"] == "error" and "ya29" not in answer["text"] and "RuntimeError" not in answer["text"]


def test_client_credentials_http_headers_cannot_carry(plugin, requests_mock, unhandled):
    """Basic auth encodes the client id and secret as latin-1; an emoji in them (a forged context, or one stored
    before configure checked) must give a clear answer, not reach the catch-all. Found by test_fuzz.py."""
    from tests.conftest import ADMIN, APPS_API, REVOKE_URL, SITE_URL, TOKEN_URL, USERINFO_URL

    requests_mock.post(TOKEN_URL, json={"access_token": "ya29.x", "refresh_token": "1//x", "expires_in": 3599})
    requests_mock.get(USERINFO_URL, json={"sub": "1", "email": "alice@gmail.com"})
    requests_mock.post(REVOKE_URL, text="")
    requests_mock.post(APPS_API + "/oauth2/user", text="")
    requests_mock.post(APPS_API + "/oauth2/app", text="")
    requests_mock.post(SITE_URL + "/api/v4/channels/direct", json={"id": "dm"})
    requests_mock.post(SITE_URL + "/api/v4/posts", json={"id": "p"})
    plugin.configure(client_id="😀.client.example.test", client_secret="secret-😀")
    services = plugin.client.application.extensions["services"]
    plugin.store_user_record(ALICE, services.tokens._cipher.seal(a_record(expires_in=-5), user_id=ALICE.id))

    assert plugin.call("/commands/info", TOKEN_USE_EXPAND)["type"] in ("ok", "error")
    plugin.store_user_record(ALICE, services.tokens._cipher.seal(a_record(), user_id=ALICE.id))
    answer = plugin.call("/commands/disconnect", TOKEN_USE_EXPAND)
    assert answer["type"] == "ok" and "did not confirm the revocation" in answer["text"]
    answer = plugin.call(
        "/oauth2/complete",
        {"acting_user": "summary", "acting_user_access_token": "all", "oauth2_app": "all"},
        values={"state": "s." + ALICE.id, "code": "c"},
    )
    assert answer["type"] in ("ok", "error")
    answer = plugin.call(
        "/configure/submit",
        CONFIGURE_SUBMIT_EXPAND,
        user=ADMIN,
        values={"client_id": "id.client.example.test", "client_secret": "secret-😀"},
    )
    assert answer == {
        "type": "error",
        "text": f"The client ID and secret must be ASCII: copy them again from {AppProvider.console_url}.",
    }
    assert not unhandled.records, [r.getMessage() for r in unhandled.records]


def test_a_session_token_http_headers_cannot_carry_over_a_real_socket(plugin, unhandled, mattermost):
    """requests_mock never encodes headers; a real socket does. A non-latin-1 Mattermost token fails cleanly."""
    plugin.installed.site_url = mattermost.url
    plugin.tokens[ALICE.id] = "tøkén-😀"
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    answer = plugin.call("/commands/disconnect", TOKEN_USE_EXPAND)
    assert answer == {"type": "error", "text": "Mattermost could not be reached from the app; please try again in a minute."}
    assert not unhandled.records


@pytest.mark.parametrize("zone", ["a" * 5000, "../../../../etc/passwd", "Europe/Nowhere", "UTC\x00", "", "Europe/Paris"])
def test_any_time_zone_in_the_acting_user_is_survived(plugin, requests_mock, unhandled, zone):
    """The time zone names a file under tzdata: a 5,000-character name raised OSError. Found by test_fuzz.py."""
    from tests.conftest import CALENDAR_API

    requests_mock.get(
        CALENDAR_API + "/calendars/primary/events",
        json={
            "items": [
                {"summary": "Standup", "start": {"dateTime": "2030-01-02T09:00:00Z"}, "end": {"dateTime": "2030-01-02T09:15:00Z"}}
            ]
        },
    )
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    services = plugin.client.application.extensions["services"]
    plugin.store_user_record(ALICE, services.tokens._cipher.seal(a_record(), user_id=ALICE.id))
    body = plugin.request("/commands/events", TOKEN_USE_EXPAND)
    body["context"]["acting_user"]["timezone"] = {"useAutomaticTimezone": "true", "automaticTimezone": zone}
    answer = post_raw(plugin.client, "/commands/events", json.dumps(body).encode())
    assert answer["type"] == "ok" and "Standup" in answer["text"]
    assert not unhandled.records
