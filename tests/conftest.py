"""Fixtures: the app built from test settings, and a `plugin` that calls it exactly as the Apps plugin would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
import requests_mock as requests_mock_module
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from bindings import TOKEN_USE
from commands import COMMANDS
from handlers import configure
from mattermost_apps import paths as plugin_paths
from mattermost_apps.testing import InstalledApp, User, build_call_request, call_headers
from provider import Provider
from services import MANIFEST_TEMPLATE
from settings import Settings

# The command table, by label, and every call path the app serves, derived from it and from the manifest.
COMMAND = {command.label: command for command in COMMANDS}
_MANIFEST = json.loads(MANIFEST_TEMPLATE.read_text(encoding="utf-8"))
paths = SimpleNamespace(
    PING=plugin_paths.PING,
    INSTALL=_MANIFEST["on_install"]["path"],
    BINDINGS=_MANIFEST["bindings"]["path"],
    OAUTH2_CONNECT=plugin_paths.OAUTH2_CONNECT,
    OAUTH2_COMPLETE=plugin_paths.OAUTH2_COMPLETE,
    CONFIGURE_SUBMIT=configure.SUBMIT_PATH,
    **{label.upper(): command.path for label, command in COMMAND.items()},
    CONFIGURE_FORM=COMMAND["configure"].path,
    COMMAND=Provider.command,
)
TOKEN_USE_EXPAND = TOKEN_USE
DISCONNECT_EXPAND = COMMAND["disconnect"].expand
CONNECT_EXPAND = COMMAND["connect"].expand
HELP_EXPAND = COMMAND["help"].expand
CONFIGURE_FORM_EXPAND = COMMAND["configure"].expand
CONFIGURE_SUBMIT_EXPAND = configure.SUBMIT_EXPAND

SITE_URL = "http://mattermost.test"
APPS_API = SITE_URL + "/plugins/com.mattermost.apps/api/v1"
APP_SECRET = "test-app-secret-0123456789abcdef0123456789"
CLIENT_ID = "1234-test.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-test-client-secret-wxyz"
AUTHORIZE_URL = "https://accounts.test/o/oauth2/v2/auth"
TOKEN_URL = "https://oauth2.test/token"
REVOKE_URL = "https://oauth2.test/revoke"
USERINFO_URL = "https://openidconnect.test/v1/userinfo"
CALENDAR_API = "https://www.googleapis.test/calendar/v3"

ADMIN = User(id="adm1nadm1nadm1nadm1nadm1na", username="sysadmin", roles="system_admin system_user", email="admin@example.com")
ALICE = User(id="a1icea1icea1icea1icea1icea", username="alice", email="alice@example.com", first_name="Alice")
BOT = User(id="b0tb0tb0tb0tb0tb0tb0tb0tb0b"[:26], username="google-oauth2", is_bot=True)
ADMIN_TOKEN = "admintoken000000000000000a"
ALICE_TOKEN = "alicetoken000000000000000a"
BOT_TOKEN = "bottoken00000000000000000b"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_secret": APP_SECRET,
        "root_url": "http://app.test:8080",
        "oauth2_authorize_url": AUTHORIZE_URL,
        "oauth2_token_url": TOKEN_URL,
        "oauth2_revoke_url": REVOKE_URL,
        "oauth2_userinfo_url": USERINFO_URL,
        "google_api_url": CALENDAR_API,
        "http_timeout": 2.0,
    }
    values.update(overrides)
    return Settings(**values)


def derived_keys(app_secret: str) -> Settings:
    """Settings with `app_secret`, for the keys they derive from it (`token_keys`, `pkce_key`)."""
    return make_settings(app_secret=app_secret)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def requests_mock() -> Iterator[requests_mock_module.Mocker]:
    """Every outbound HTTP call must be mocked: an unmocked URL fails the test."""
    with requests_mock_module.Mocker() as mocker:
        yield mocker


@dataclass
class FakePlugin:
    """Calls the app as the Apps plugin does: expand, cleanup, JWT (see mattermost_apps/testing.py).

    `stored` is what Mattermost holds for (app, user) through /oauth2/user, as raw bytes.
    """

    client: FlaskClient
    installed: InstalledApp
    tokens: dict[str, str] = field(default_factory=lambda: {ADMIN.id: ADMIN_TOKEN, ALICE.id: ALICE_TOKEN})
    stored: dict[str, bytes] = field(default_factory=dict)

    def request(
        self,
        path: str,
        expand: dict[str, str] | None = None,
        *,
        user: User | None = ALICE,
        values: dict[str, Any] | None = None,
        state: Any = None,
    ) -> dict[str, Any]:
        call = {"path": path, "expand": expand or {}, "state": state}
        return build_call_request(
            self.installed,
            call,
            acting_user=user,
            acting_user_access_token=self.tokens.get(user.id, "") if user else "",
            stored_oauth2_user=self.stored.get(user.id) if user else None,
            values=values,
        )

    def call(self, path: str, expand: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
        body = self.request(path, expand, **kwargs)
        response = self.client.post(path, data=json.dumps(body), headers=call_headers(self.installed, body))
        response.close()  # as a server does once the answer is sent: what runs after the response runs now
        assert response.status_code == 200, response.data
        result = response.get_json()
        assert isinstance(result, dict) and result.get("type") in ("ok", "error", "form", "navigate"), result
        return result

    def store_user_record(self, user: User, record: Any) -> None:
        self.stored[user.id] = json.dumps(record).encode()

    def configure(self, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET) -> None:
        self.installed.oauth2_app = {"client_id": client_id, "client_secret": client_secret}


def installed_app() -> InstalledApp:
    """The app as the plugin holds it once installed (for a test that cannot take the `installed` fixture)."""
    return InstalledApp(
        app_id="google-oauth2",
        root_url="http://app.test:8080",
        secret=APP_SECRET,
        bot=BOT,
        bot_access_token=BOT_TOKEN,
        site_url=SITE_URL,
    )


@pytest.fixture
def installed() -> InstalledApp:
    return installed_app()


@pytest.fixture
def plugin(client: FlaskClient, installed: InstalledApp) -> FakePlugin:
    return FakePlugin(client, installed)
