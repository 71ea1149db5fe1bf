"""The command table is the one place a command is declared: an app built with an extra entry shows it in the
bindings and in `help`, and routes its call; a path the plugin reserves, or one taken twice, stops the app."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app import create_app
from bindings import Command, everyone
from commands import COMMANDS
from handlers import messages
from mattermost_apps import ok
from tests.conftest import ALICE, fake_plugin, make_settings, paths

EXTRA = Command(
    "extra", "Do the extra thing", "/commands/extra", {"acting_user": "summary"}, everyone, lambda call, s: ok("extra ran")
)


@pytest.fixture
def plugin_with_extra(installed):
    return fake_plugin(create_app(make_settings(), commands=(*COMMANDS, EXTRA)).test_client(), installed)


def test_an_extra_entry_is_in_the_bindings(plugin_with_extra):
    result = plugin_with_extra.call(paths.BINDINGS, {"acting_user": "summary", "oauth2_app": "all", "oauth2_user": "all"})
    (top,) = result["data"]
    (command,) = top["bindings"]
    extra = [b for b in command["bindings"] if b["label"] == "extra"]
    assert extra == [
        {
            "location": "extra",
            "label": "extra",
            "description": "Do the extra thing",
            "form": {
                "submit": {"path": "/commands/extra", "expand": {"acting_user": "summary"}},
                "fields": [
                    {
                        "name": "words",
                        "label": "words",
                        "type": "text",
                        "position": -1,
                        "description": messages.text("binding.rest"),
                    }
                ],
            },
        }
    ]
    assert "extra" in command["hint"]


def test_an_extra_entry_is_in_help(plugin_with_extra):
    text = plugin_with_extra.call(paths.HELP, {"acting_user": "summary", "oauth2_app": "all", "oauth2_user": "all"})["text"]
    assert f"- `/{paths.COMMAND} extra`: Do the extra thing" in text.splitlines()


def test_an_extra_entry_is_routed_to_its_handler(plugin_with_extra):
    assert plugin_with_extra.call("/commands/extra", {"acting_user": "summary"}, user=ALICE) == {
        "type": "ok",
        "text": "extra ran",
    }


def test_without_the_entry_there_is_no_route(plugin):
    assert plugin.client.post("/commands/extra", data=b"{}").status_code == 404


@pytest.mark.parametrize("path", ["/ping", "/oauth2/connect", "/oauth2/complete", "/webhook", "/install", "commands/extra"])
def test_a_command_on_a_path_the_plugin_refuses_stops_the_app(path):
    with pytest.raises(ValueError, match="cannot be a command's call path"):
        create_app(make_settings(), commands=(*COMMANDS, replace(EXTRA, path=path)))


def test_two_commands_on_one_path_stop_the_app():
    with pytest.raises(ValueError, match="two handlers"):
        create_app(make_settings(), commands=(*COMMANDS, replace(EXTRA, path=COMMANDS[0].path)))
