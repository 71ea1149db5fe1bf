"""The real app installed into the SDK's emulated Mattermost (its `mattermost` fixture): in-process, and over loopback
HTTP under the werkzeug server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from app import create_app
from mattermost_apps.testing import Mattermost, serve
from provider import Provider
from services import MANIFEST_TEMPLATE
from tests.conftest import APP_SECRET, make_settings

pytestmark = pytest.mark.e2e

MANIFEST = json.loads(MANIFEST_TEMPLATE.read_text(encoding="utf-8"))
INSTALLED = f"Installed app `{MANIFEST['app_id']}`: {MANIFEST['display_name']}."
HELP = f"/{Provider.command} help"


@pytest.fixture
def real_app() -> Iterator[str]:
    served = serve(lambda url: create_app(make_settings(root_url=url)))
    yield served.url
    served.stop()


def test_install_the_real_app_over_http_and_run_help(mattermost: Mattermost, real_app: str) -> None:
    assert mattermost.install(real_app + "/manifest.json", secret=APP_SECRET).startswith(INSTALLED + "\n\n")
    assert mattermost.store.app is not None and mattermost.store.app.bot.username == MANIFEST["app_id"]

    result = mattermost.command(HELP, as_user="alice")
    assert result["type"] == "ok" and f"/{Provider.command} connect" in result["text"]
    assert f"/{Provider.command} configure" not in result["text"].split("\n\n")[0]  # alice is no admin
    with mattermost.store.lock:
        log = [(c["path"], c["status"]) for c in mattermost.store.app_calls]
    assert log == [("/ping", 200), (MANIFEST["on_install"]["path"], 200), ("/bindings", 200), ("/commands/help", 200)]


def test_install_the_real_app_in_process(mattermost: Mattermost) -> None:
    assert mattermost.install(create_app(make_settings()), secret=APP_SECRET).startswith(INSTALLED)
    assert mattermost.command(HELP, as_user="sysadmin")["type"] == "ok"


def test_the_real_app_refuses_calls_signed_with_another_secret(mattermost: Mattermost, real_app: str) -> None:
    # The plugin's ping only needs a 200 (the app answers it without a JWT check); on_install is refused.
    text = mattermost.install(real_app + "/manifest.json", secret="not the app's secret, but long enough!")
    assert text.startswith(INSTALLED + ", despite on_install failure: ")
    assert "Outgoing JWT Secret" in text
    # no bindings (their call is refused too), so the webapp has no command: the server answers
    assert mattermost.command(HELP) == {"type": "error", "text": f"Command with a trigger of '/{Provider.command}' not found."}
