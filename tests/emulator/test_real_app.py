"""The emulator against the real app over loopback HTTP, and the emulator as its own process."""

from __future__ import annotations

import html
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient

from app import create_app
from commands import COMMANDS
from handlers import configure, messages
from provider import Provider
from settings import Settings
from tests.apps_plugin.store import Store
from tests.conftest import APP_SECRET, make_settings
from tests.emulator.conftest import serve
from tests.unit.conftest import make_record
from user_tokens import TokenCipher

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


def test_no_sub_command_ends_in_the_parsers_error_whatever_the_users_state(emu: FlaskClient, real_app: str, store: Store) -> None:
    # The web client's parser answers "Parsing error: ..." for a sub-command that is not bound for the user, or for
    # words it cannot place: the user would never reach the app's own sentence. Every state a user can be in:
    # nothing configured, configured but not connected, connected, and disconnected (null stored).
    manifest_url = real_app + "/manifest.json"
    assert emu.post("/_emulator/install", json={"manifest_url": manifest_url, "secret": APP_SECRET}).status_code == 200
    typed = [f"/{Provider.command} {c.label}" for c in COMMANDS] + [f"/{Provider.command} connect now"]

    def check(state: str) -> dict[str, dict]:
        got = {c: emu.post("/_emulator/command", json={"username": "alice", "command": c}).get_json() for c in typed}
        for command, result in got.items():
            assert not str(result.get("text", "")).startswith("Parsing error"), (state, command, result)
        return got

    events = f"/{Provider.command} events"
    assert check("unconfigured")[events]["type"] == "error"
    assert store.app is not None
    store.app.remote_oauth2 = {"client_id": "id", "client_secret": "secret"}
    not_connected = check("not connected")
    assert not_connected[events] == {"type": "error", "text": messages.text("not_connected")}
    assert not_connected[f"/{Provider.command} connect now"]["type"] == "ok"
    alice = store.user_by_name("alice")
    assert alice is not None
    sealed = TokenCipher(Settings(app_secret=APP_SECRET).token_keys).seal(make_record(), user_id=alice.id)
    store.oauth2_users[(store.app.app_id, alice.id)] = json.dumps(sealed).encode()
    check("connected")
    store.oauth2_users[(store.app.app_id, alice.id)] = b"null"
    check("disconnected")


def test_the_configure_form_renders_its_help_and_keeps_what_the_admin_typed(emu: FlaskClient, real_app: str) -> None:
    # As the web client's modal: the header is markdown (emphasis, and the console URL a link), and a refused
    # submit keeps the form open with what was typed (the secret aside) and the app's sentence.
    assert (
        emu.post("/_emulator/install", json={"manifest_url": real_app + "/manifest.json", "secret": APP_SECRET}).status_code
        == 200
    )
    emu.post("/login", data={"username": "sysadmin", "password": "x"})
    page = emu.post("/", data={"command": f"/{Provider.command} configure"}).get_data(as_text=True)
    assert "<em>Web application</em>" in page and "*" not in page.split('class="header">')[1].split("</div>")[0]
    assert f'<a href="{Provider.console_url}">' in page
    form = emu.post("/_emulator/command", json={"username": "sysadmin", "command": f"/{Provider.command} configure"}).get_json()
    refused = emu.post(
        "/form", data={"__form": json.dumps(form["form"]), "client_id": "two words", "client_secret": "typed-secret"}
    ).get_data(as_text=True)
    assert 'id="app-form"' in refused and 'value="two words"' in refused and "typed-secret" not in refused
    assert html.escape(messages.text("configure.client_id_invalid", limit=configure.MAX_CLIENT_ID_LENGTH), quote=False) in refused
