"""The emulator against the real app over loopback HTTP, and the emulator as its own process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient

from app import create_app
from tests.apps_plugin.store import Store
from tests.conftest import APP_SECRET, make_settings
from tests.emulator.conftest import serve

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def real_app() -> Iterator[str]:
    served = serve(lambda url: create_app(make_settings(root_url=url)))
    yield served.url
    served.stop()


def test_install_the_real_app_and_run_google_help(emu: FlaskClient, real_app: str, store: Store) -> None:
    response = emu.post("/_emulator/install", json={"manifest_url": real_app + "/manifest.json", "secret": APP_SECRET})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["text"].startswith("Installed app `google-oauth2`: Google OAuth2.\n\n")
    assert store.app is not None and store.app.bot.username == "google-oauth2"

    result = emu.post("/_emulator/command", json={"username": "alice", "command": "/google help"}).get_json()
    assert result["type"] == "ok" and "/google connect" in result["text"]
    assert "/google configure" not in result["text"].split("\n\n")[0]  # alice is no admin: no configure line
    log = emu.get("/_emulator/log").get_json()["app_calls"]
    assert [(c["path"], c["status"]) for c in log] == [
        ("/ping", 200),
        ("/install", 200),
        ("/bindings", 200),
        ("/commands/help", 200),
    ]


def test_the_real_app_refuses_calls_signed_with_another_secret(emu: FlaskClient, real_app: str) -> None:
    # The plugin's ping only needs a 200 (the app answers it without a JWT check); on_install is refused.
    response = emu.post(
        "/_emulator/install",
        json={"manifest_url": real_app + "/manifest.json", "secret": "not the app's secret, but long enough!"},
    )
    assert response.status_code == 200
    text = response.get_json()["text"]
    assert text.startswith("Installed app `google-oauth2`: Google OAuth2., despite on_install failure: ")
    assert "Outgoing JWT Secret" in text
    result = emu.post("/_emulator/command", json={"username": "alice", "command": "/google help"}).get_json()
    # no bindings (their call is refused too), so the webapp has no /google command: the server answers
    assert result == {"type": "error", "text": "Command with a trigger of '/google' not found."}


def test_the_emulator_runs_as_a_module() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.apps_plugin.emulator", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("emulator listening http://127.0.0.1:")
        url = line.removeprefix("emulator listening ")
        session = requests.post(url + "/_emulator/sessions", json={"username": "bob"}, timeout=5).json()
        me = requests.get(url + "/api/v4/users/me", headers={"Authorization": f"bearer {session['token']}"}, timeout=5)
        assert me.json()["id"] == session["user_id"]
        assert requests.get(url + "/", allow_redirects=False, timeout=5).headers["Location"] == "/login"
    finally:
        process.terminate()
        process.wait(timeout=10)
