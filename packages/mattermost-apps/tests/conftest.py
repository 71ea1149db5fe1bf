"""Fixtures for the SDK's own tests: the emulator in-process, and a tiny stub app served on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from stubs import SITE_URL, StubApp

from mattermost_apps.testing import serve
from mattermost_apps.testing.emulator import Plugin, Store, create_emulator


@pytest.fixture
def emulator() -> Flask:
    return create_emulator(SITE_URL)


@pytest.fixture
def emu(emulator: Flask) -> FlaskClient:
    return emulator.test_client()


@pytest.fixture
def plugin(emulator: Flask) -> Plugin:
    return emulator.extensions["apps_plugin"]


@pytest.fixture
def store(plugin: Plugin) -> Store:
    return plugin.store


@pytest.fixture
def stub() -> Iterator[StubApp]:
    app = StubApp()
    served = serve(lambda _url: app.flask_app())
    app.url = served.url
    yield app
    served.stop()
