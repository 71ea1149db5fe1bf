"""Helpers for the unit tests: the app's own cipher, planted token records, and the URLs the app calls."""

from __future__ import annotations

import base64
import json
import time
from types import SimpleNamespace
from typing import Any

import pytest

from provider import AppProvider, Identity
from settings import Settings
from tests.conftest import ALICE, APPS_API, SITE_URL
from tests.names import APP_ID
from user_tokens import TokenCipher, TokenRecord

STATE = "q1w2e3r4t5y6u7i8o9p0." + ALICE.id
CONNECT_URL = f"{SITE_URL}/plugins/com.mattermost.apps/apps/{APP_ID}/oauth2/remote/connect"
COMPLETE_URL = f"{SITE_URL}/plugins/com.mattermost.apps/apps/{APP_ID}/oauth2/remote/complete"
OAUTH2_USER_URL = APPS_API + "/oauth2/user"
OAUTH2_APP_URL = APPS_API + "/oauth2/app"
DM_CHANNEL_URL = SITE_URL + "/api/v4/channels/direct"
POSTS_URL = SITE_URL + "/api/v4/posts"
IDENTITY = Identity(sub="108700000000000000001", email="alice@gmail.com", name="Alice G")


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def make_record(
    *,
    access_token: str = "ya29.fresh-access",
    refresh_token: str | None = "1//refresh-token",
    expires_in: float | None = 3000,
    scope: str = " ".join(AppProvider.scopes),  # all the app asks for; a test of granular consent passes fewer
    identity: Identity = IDENTITY,
) -> TokenRecord:
    expires_at = time.time() + expires_in if expires_in is not None else None
    return TokenRecord(access_token, refresh_token, expires_at, scope, "Bearer", identity)


@pytest.fixture
def services(app):
    return app.extensions["services"]


@pytest.fixture
def cipher(settings: Settings) -> TokenCipher:
    """The cipher the app builds from the same settings: what it seals, this opens, and the other way round."""
    return TokenCipher(settings.token_keys)


@pytest.fixture
def connect_user(plugin, cipher):
    """Plant an encrypted record in Mattermost for a user, as a completed connect would have stored it."""

    def connect(user=ALICE, **record_fields: Any) -> TokenRecord:
        record = make_record(**record_fields)
        plugin.store_user_record(user, cipher.seal(record, user_id=user.id))
        return record

    return connect


@pytest.fixture
def mattermost(requests_mock):
    """The Mattermost endpoints the app writes to, answering as the plugin does on success."""

    return SimpleNamespace(
        oauth2_user=requests_mock.post(OAUTH2_USER_URL, text=""),
        stored_oauth2_user=requests_mock.get(OAUTH2_USER_URL, text=""),  # nothing stored, unless a test says otherwise
        oauth2_app=requests_mock.post(OAUTH2_APP_URL, text=""),
        dm_channel=requests_mock.post(DM_CHANNEL_URL, json={"id": "dmchannel0000000000000000a"}),
        posts=requests_mock.post(POSTS_URL, json={"id": "post00000000000000000000a"}),
    )


def stored_bodies(requests_mock) -> list[Any]:
    """Every JSON body POSTed to /oauth2/user, in order."""
    return [json.loads(r.body) for r in requests_mock.request_history if r.url == OAUTH2_USER_URL and r.method == "POST"]


def sent_to(requests_mock, url: str) -> list[Any]:
    return [r for r in requests_mock.request_history if r.url.split("?")[0] == url]
