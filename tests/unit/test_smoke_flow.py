"""The whole flow through the Flask test client, the provider and Mattermost mocked: each step's answer and side effect."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

from mattermost_apps.testing import DEFAULT_COMPLETE_EXPAND, DEFAULT_CONNECT_EXPAND
from provider import AppProvider
from tests.conftest import (
    ADMIN,
    ALICE,
    APPS_API,
    CALENDAR_API,
    CLIENT_ID,
    CLIENT_SECRET,
    CONFIGURE_SUBMIT_EXPAND,
    CONNECT_EXPAND,
    ISSUER,
    REVOKE_URL,
    SITE_URL,
    TOKEN_URL,
    TOKEN_USE_EXPAND,
    USERINFO_URL,
)
from tests.names import APP_ID, PROVIDER

STATE = "q1w2e3r4t5y6u7i8o9p0." + ALICE.id


def test_configure_connect_complete_use_disconnect(plugin, requests_mock):
    requests_mock.post(APPS_API + "/oauth2/app", text="")
    result = plugin.call(
        "/configure/submit", CONFIGURE_SUBMIT_EXPAND, user=ADMIN, values={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    assert result["type"] == "ok", result
    assert json.loads(requests_mock.last_request.body) == {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    assert CLIENT_SECRET not in result["text"] and "…wxyz" in result["text"]
    plugin.configure(CLIENT_ID, CLIENT_SECRET)

    result = plugin.call("/commands/connect", CONNECT_EXPAND)
    connect_url = f"{SITE_URL}/plugins/com.mattermost.apps/apps/{APP_ID}/oauth2/remote/connect"
    assert result["text"] == f"[Connect your {PROVIDER} account]({connect_url})."

    result = plugin.call("/oauth2/connect", DEFAULT_CONNECT_EXPAND, values={"state": STATE})
    url = urlsplit(result["data"])
    query = parse_qs(url.query)
    assert query["state"] == [STATE]
    assert query["client_id"] == [CLIENT_ID]
    assert {key: query[key] for key in AppProvider.authorization_params} == {
        key: [value] for key, value in AppProvider.authorization_params.items()
    }  # the provider's own parameters; the provider's tests check their values
    assert query["code_challenge_method"] == ["S256"]

    requests_mock.post(
        TOKEN_URL,
        json={
            "access_token": "ya29.first",
            "refresh_token": "1//refresh",
            "expires_in": 3599,
            "scope": " ".join(AppProvider.scopes),
            "token_type": "Bearer",
        },
    )
    requests_mock.get(USERINFO_URL, json={"sub": "1087", "email": "alice@gmail.com", "name": "Alice G"})
    stored = requests_mock.post(APPS_API + "/oauth2/user", text="")
    requests_mock.post(SITE_URL + "/api/v4/channels/direct", json={"id": "dmchannel"})
    dm = requests_mock.post(SITE_URL + "/api/v4/posts", json={"id": "post1"})
    result = plugin.call(
        "/oauth2/complete",
        DEFAULT_COMPLETE_EXPAND,
        values={"state": STATE, "code": "4/0Abc", "scope": "email", "iss": ISSUER},
    )
    assert result == {"type": "ok"}
    record = json.loads(stored.last_request.body)
    assert set(record) == {"v", "fernet"} and "ya29.first" not in stored.last_request.body.decode()
    assert "alice@gmail.com" in json.loads(dm.last_request.body)["message"]
    plugin.stored[ALICE.id] = stored.last_request.body

    result = plugin.call("/commands/info", TOKEN_USE_EXPAND)
    assert "alice@gmail.com" in result["text"], result

    requests_mock.get(
        CALENDAR_API + "/calendars/primary/events",
        json={
            "items": [
                {
                    "summary": "Standup",
                    "start": {"dateTime": "2030-01-02T09:00:00Z"},
                    "end": {"dateTime": "2030-01-02T09:15:00Z"},
                    "htmlLink": "https://calendar.example.test/event?eid=1",
                }
            ]
        },
    )
    result = plugin.call("/commands/events", TOKEN_USE_EXPAND)
    assert "Standup" in result["text"] and "09:00–09:15" in result["text"], result

    revoke = requests_mock.post(REVOKE_URL, text="")
    result = plugin.call("/commands/disconnect", TOKEN_USE_EXPAND)
    assert result["type"] == "ok" and result["refresh_bindings"] is True
    assert parse_qs(revoke.last_request.body) == {"token": ["1//refresh"]}
    assert stored.last_request.body == b"null"


def test_stale_token_is_refreshed_and_stored_back(plugin, requests_mock):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    from provider import Identity
    from services import Services  # the cipher the app uses, to plant a stale record
    from user_tokens import TokenRecord

    services: Services = plugin.client.application.extensions["services"]
    stale = TokenRecord("ya29.old", "1//refresh", time.time() - 10, "email", "Bearer", Identity("1087", "a@gmail.com", "A"))
    plugin.store_user_record(ALICE, services.tokens._cipher.seal(stale, user_id=ALICE.id))
    refresh = requests_mock.post(TOKEN_URL, json={"access_token": "ya29.new", "expires_in": 3599, "token_type": "Bearer"})
    stored = requests_mock.post(APPS_API + "/oauth2/user", text="")
    userinfo = requests_mock.get(USERINFO_URL, json={"sub": "1087", "email": "a@gmail.com"})
    result = plugin.call("/commands/info", TOKEN_USE_EXPAND)
    assert result["type"] == "ok", result
    assert parse_qs(refresh.last_request.body)["grant_type"] == ["refresh_token"]
    assert userinfo.last_request.headers["Authorization"] == "Bearer ya29.new"
    new = services.tokens._cipher.open(json.loads(stored.last_request.body), user_id=ALICE.id)
    assert new.access_token == "ya29.new" and new.refresh_token == "1//refresh"
