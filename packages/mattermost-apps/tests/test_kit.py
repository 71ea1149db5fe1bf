"""The testing kit drives an app the way Mattermost does: installed into the emulator in-process or over real HTTP,
commands typed as a user through the web client's parser, lookups, forms, and what the app stored."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import requests
from flask import Flask, jsonify

from mattermost_apps import CallRequest, CallResponse, CallRouter, ok
from mattermost_apps.testing import FakePlugin, InstalledApp, Mattermost, User, serve

SECRET = "kit-test-secret-0123456789abcdef-0123456789"


def small_app(root_url: str = "http://kit-app.test") -> Flask:
    """An App with one command, `/kit hi`, that stores a KV value and answers with the acting user's name."""
    app = Flask("kit_app")
    manifest = {
        "app_id": "kit-app",
        "version": "v0.1.0",
        "display_name": "Kit App",
        "homepage_url": root_url,
        "requested_permissions": ["act_as_user", "act_as_bot"],
        "requested_locations": ["/command"],
        "bindings": {"path": "/bindings", "expand": {"acting_user": "summary"}},
        "http": {"root_url": root_url, "use_jwt": True},
    }

    @app.get("/manifest.json")
    def manifest_json() -> Any:
        return jsonify(manifest)

    def bindings(call: CallRequest, services: Any) -> CallResponse:
        hi = {"location": "hi", "label": "hi", "submit": {"path": "/hi", "expand": {"acting_user": "summary"}}}
        return ok(data=[{"location": "/command", "bindings": [{"location": "kit", "label": "kit", "bindings": [hi]}]}])

    def hi(call: CallRequest, services: Any) -> CallResponse:
        return ok(f"hi **{(call.context.acting_user or {}).get('username')}**")

    router = CallRouter[None]()
    router.add("/bindings", bindings)
    router.add("/hi", hi)
    router.install(app, jwt_secret=SECRET, services=None, explain=str)
    return app


def test_the_fixture_installs_an_app_in_process_and_runs_its_command(mattermost: Mattermost) -> None:
    assert mattermost.install(small_app(), secret=SECRET) == "Installed app `kit-app`: Kit App."
    assert mattermost.command("/kit hi", as_user="bob") == {
        "type": "ok",
        "text": "hi **bob**",
        "app_metadata": {
            "bot_user_id": mattermost.store.app.bot.id,  # type: ignore[union-attr]
            "bot_username": "kit-app",
        },
    }


def test_a_command_the_app_does_not_bind_gets_the_web_clients_own_sentence(mattermost: Mattermost) -> None:
    mattermost.install(small_app(), secret=SECRET)
    assert mattermost.command("/kit bye")["text"] == "Parsing error: You must select a subcommand."


def test_a_wrong_secret_is_what_mattermost_would_show(mattermost: Mattermost) -> None:
    text = mattermost.install(small_app(), secret="not-the-secret")
    assert "despite bindings failure" in text or "failed" in text.lower()


def test_an_app_served_over_real_http_installs_from_its_url(mattermost: Mattermost) -> None:
    served = serve(small_app)
    try:
        assert mattermost.install(served.url + "/manifest.json", secret=SECRET).startswith("Installed app `kit-app`")
        assert mattermost.command("/kit hi")["text"] == "hi **alice**"
    finally:
        served.stop()


def test_fake_plugin_signs_one_call_with_no_mattermost_behind_it() -> None:
    bot = User(id="b" * 26, username="kit-app", is_bot=True)
    installed = InstalledApp(
        app_id="kit-app", root_url="http://kit-app.test", secret=SECRET, bot=bot, bot_access_token="t", site_url="http://mm.test"
    )
    alice = User(id="a" * 26, username="alice")
    plugin = FakePlugin(small_app().test_client(), installed, default_user=alice)
    assert plugin.call("/hi", {"acting_user": "summary"})["text"] == "hi **alice**"
    # signed with another secret: the app still answers HTTP 200, with an error the plugin would show
    wrong = FakePlugin(small_app().test_client(), InstalledApp(**{**installed.__dict__, "secret": "another"}))
    assert wrong.call("/hi", {"acting_user": "summary"}, user=alice) == {"type": "error", "text": "bad_signature"}


@pytest.mark.e2e
def test_the_emulator_runs_as_a_module() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mattermost_apps.testing.emulator", "--port", "0"],
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
