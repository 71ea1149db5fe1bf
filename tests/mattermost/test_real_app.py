"""The real app installed into the SDK's emulated Mattermost (its `mattermost` fixture): in-process, and over loopback
HTTP under the werkzeug server."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator

import pytest

from app import create_app
from commands import COMMANDS
from handlers import configure, messages
from mattermost_apps.testing import Mattermost, serve
from provider import AppProvider
from services import MANIFEST_TEMPLATE
from settings import Settings
from tests.binding_calls import typed as value_typed
from tests.conftest import APP_SECRET, make_settings
from tests.unit.conftest import make_record
from user_tokens import TokenCipher

pytestmark = pytest.mark.e2e

MANIFEST = json.loads(MANIFEST_TEMPLATE.read_text(encoding="utf-8"))
INSTALLED = f"Installed app `{MANIFEST['app_id']}`: {MANIFEST['display_name']}."
HELP = f"/{AppProvider.command} help"


@pytest.fixture
def real_app() -> Iterator[str]:
    served = serve(lambda url: create_app(make_settings(root_url=url)))
    yield served.url
    served.stop()


def test_install_the_real_app_over_http_and_run_help(mattermost: Mattermost, real_app: str) -> None:
    assert mattermost.install(real_app + "/manifest.json", secret=APP_SECRET).startswith(INSTALLED + "\n\n")
    assert mattermost.store.app is not None and mattermost.store.app.bot.username == MANIFEST["app_id"]

    result = mattermost.command(HELP, as_user="alice")
    assert result["type"] == "ok" and f"/{AppProvider.command} connect" in result["text"]
    assert f"/{AppProvider.command} configure" not in result["text"].split("\n\n")[0]  # alice is no admin
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
    assert mattermost.command(HELP) == {"type": "error", "text": f"Command with a trigger of '/{AppProvider.command}' not found."}


def test_no_sub_command_ends_in_the_parsers_error_whatever_the_users_state(mattermost: Mattermost, real_app: str) -> None:
    # The web client's parser answers "Parsing error: ..." for a sub-command that is not bound for the user, or for
    # words it cannot place: the user would never reach the app's own sentence. Every state a user can be in:
    # nothing configured, configured but not connected, connected, and disconnected (null stored).
    mattermost.install(real_app + "/manifest.json", secret=APP_SECRET)
    typed = [f"/{AppProvider.command} {c.label}" for c in COMMANDS] + [f"/{AppProvider.command} connect now"]
    # and each flag of each command, with a value (a command's fields are bound whatever the state, too)
    flags = [f"/{AppProvider.command} {c.label} --{f.label} {value_typed(f.to_json())[0]}" for c in COMMANDS for f in c.fields]
    assert flags  # a command has a form
    typed += flags

    def check(state: str) -> dict[str, dict]:
        got = {c: mattermost.command(c, as_user="alice") for c in typed}
        for command, result in got.items():
            assert not str(result.get("text", "")).startswith("Parsing error"), (state, command, result)
        return got

    events = f"/{AppProvider.command} events"
    assert check("unconfigured")[events]["type"] == "error"
    store = mattermost.store
    assert store.app is not None
    store.app.remote_oauth2 = {"client_id": "id", "client_secret": "secret"}
    not_connected = check("not connected")
    assert not_connected[events] == {"type": "error", "text": messages.text("not_connected")}
    assert not_connected[f"/{AppProvider.command} connect now"]["type"] == "ok"
    alice = mattermost.user("alice")
    sealed = TokenCipher(Settings(app_secret=APP_SECRET).token_keys).seal(make_record(), user_id=alice.id)
    store.oauth2_users[(store.app.app_id, alice.id)] = json.dumps(sealed).encode()
    check("connected")
    store.oauth2_users[(store.app.app_id, alice.id)] = b"null"
    check("disconnected")


def test_the_configure_form_renders_its_help_and_keeps_what_the_admin_typed(mattermost: Mattermost, real_app: str) -> None:
    # As the web client's modal: the header is markdown (emphasis, and the console URL a link), and a refused
    # submit keeps the form open with what was typed (the secret aside) and the app's sentence.
    mattermost.install(real_app + "/manifest.json", secret=APP_SECRET)
    emu = mattermost.emulator.test_client()
    emu.post("/login", data={"username": "sysadmin", "password": "x"})
    page = emu.post("/", data={"command": f"/{AppProvider.command} configure"}).get_data(as_text=True)
    assert "<em>Web application</em>" in page and "*" not in page.split('class="header">')[1].split("</div>")[0]
    assert f'<a href="{AppProvider.console_url}">' in page
    form = mattermost.command(f"/{AppProvider.command} configure", as_user="sysadmin")
    refused = emu.post(
        "/form", data={"__form": json.dumps(form["form"]), "client_id": "two words", "client_secret": "typed-secret"}
    ).get_data(as_text=True)
    assert 'id="app-form"' in refused and 'value="two words"' in refused and "typed-secret" not in refused
    assert html.escape(messages.text("configure.client_id_invalid", limit=configure.MAX_CLIENT_ID_LENGTH), quote=False) in refused
