"""Fixtures: the app built from test settings, and a `plugin` that calls it exactly as the Apps plugin would (the SDK's
`FakePlugin`)."""

from __future__ import annotations

from collections.abc import Iterator
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
from mattermost_apps.testing import FakePlugin, InstalledApp, User
from provider import AppProvider
from settings import Settings
from tests.names import APP_ID, BOT_USERNAME, MANIFEST

# The command table, by label, and every call path the app serves, derived from it and from the manifest.
COMMAND = {command.label: command for command in COMMANDS}
paths = SimpleNamespace(
    PING=plugin_paths.PING,
    INSTALL=MANIFEST["on_install"]["path"],
    BINDINGS=MANIFEST["bindings"]["path"],
    OAUTH2_CONNECT=plugin_paths.OAUTH2_CONNECT,
    OAUTH2_COMPLETE=plugin_paths.OAUTH2_COMPLETE,
    CONFIGURE_SUBMIT=configure.SUBMIT_PATH,
    **{label.upper(): command.path for label, command in COMMAND.items()},
    CONFIGURE_FORM=COMMAND["configure"].path,
    COMMAND=AppProvider.command,
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
CLIENT_ID = "1234-test.client.example.test"
CLIENT_SECRET = "test-client-secret-wxyz"
AUTHORIZE_URL = "https://accounts.test/o/oauth2/v2/auth"
TOKEN_URL = "https://oauth2.test/token"
REVOKE_URL = "https://oauth2.test/revoke"
USERINFO_URL = "https://openidconnect.test/v1/userinfo"
ISSUER = "https://accounts.test"
CALENDAR_API = "https://calendar-api.test/calendar/v3"

ADMIN = User(id="adm1nadm1nadm1nadm1nadm1na", username="sysadmin", roles="system_admin system_user", email="admin@example.com")
ALICE = User(id="a1icea1icea1icea1icea1icea", username="alice", email="alice@example.com", first_name="Alice")
BOT = User(id="b0tb0tb0tb0tb0tb0tb0tb0tb0b"[:26], username=BOT_USERNAME, is_bot=True)
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
        "oauth2_issuer": ISSUER,
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


def fake_plugin(client: FlaskClient, installed: InstalledApp) -> FakePlugin:
    """The SDK's `FakePlugin`, with the acting-user tokens the plugin would mint for the test users; alice acts
    unless a call names another user."""
    return FakePlugin(client, installed, tokens={ADMIN.id: ADMIN_TOKEN, ALICE.id: ALICE_TOKEN}, default_user=ALICE)


def installed_app() -> InstalledApp:
    """The app as the plugin holds it once installed (for a test that cannot take the `installed` fixture)."""
    return InstalledApp(
        app_id=APP_ID,
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
    return fake_plugin(client, installed)
