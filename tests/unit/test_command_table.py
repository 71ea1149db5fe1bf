"""The command table is the one place a command is declared: an app built with an extra entry shows it in the
bindings and in `help`, and routes its call, and its fields' lookups when it has a form; a path the plugin reserves,
or one taken twice, stops the app."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app import create_app
from bindings import TOKEN_USE, Command, everyone
from commands import COMMANDS
from handlers import messages
from handlers.token_use import uses_token
from mattermost_apps import Call, Field, Form, Option, form, lookup, ok
from tests.conftest import ALICE, CLIENT_ID, CLIENT_SECRET, fake_plugin, make_settings, paths

from .conftest import make_record

EXTRA = Command(
    "extra", "Do the extra thing", "/commands/extra", {"acting_user": "summary"}, everyone, lambda call, s: ok("extra ran")
)


# An entry with a form: a flag, a positional argument, and a dynamic select whose lookup has a handler of its own.
COLOUR = Field("colour", "dynamic_select", lookup=Call("/commands/extra/colours", {"locale": "all"}))
EXTRA_WITH_FORM = replace(
    EXTRA,
    fields=(Field("loud", "bool"), Field("target", position=1), COLOUR),
    lookups={"colour": lambda call, s: lookup(Option(c.title(), c) for c in ("red", "green") if call.query in c)},
    handler=lambda call, s: ok(f"{call.value('target')} {call.value('colour')} loud={call.bool_value('loud')}"),
)


@pytest.fixture
def plugin_with_extra(installed):
    return fake_plugin(create_app(make_settings(), commands=(*COMMANDS, EXTRA)).test_client(), installed)


@pytest.fixture
def plugin_with_form(installed):
    return fake_plugin(create_app(make_settings(), commands=(*COMMANDS, EXTRA_WITH_FORM)).test_client(), installed)


def extra_binding(plugin):
    result = plugin.call(paths.BINDINGS, {"acting_user": "summary", "oauth2_app": "all", "oauth2_user": "all"})
    (top,) = result["data"]
    (command,) = top["bindings"]
    (extra,) = [b for b in command["bindings"] if b["label"] == "extra"]
    return extra


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


def test_an_extra_entry_with_fields_carries_them_before_the_rest_of_the_line(plugin_with_form):
    form = extra_binding(plugin_with_form)["form"]
    assert form["submit"] == {"path": "/commands/extra", "expand": {"acting_user": "summary"}}
    assert form["fields"] == [
        {"name": "loud", "type": "bool", "label": "loud"},
        {"name": "target", "type": "text", "label": "target", "position": 1},
        {
            "name": "colour",
            "type": "dynamic_select",
            "label": "colour",
            "lookup": {"path": "/commands/extra/colours", "expand": {"locale": "all"}},
        },
        {"name": "words", "type": "text", "label": "words", "position": -1, "description": messages.text("binding.rest")},
    ]


def test_an_extra_entry_with_fields_routes_its_submit_and_its_lookup(plugin_with_form):
    values = {"target": "wall", "colour": {"label": "red", "value": "red"}, "loud": True}
    assert plugin_with_form.call("/commands/extra", {"acting_user": "summary"}, values=values) == {
        "type": "ok",
        "text": "wall red loud=True",
    }
    answer = plugin_with_form.call("/commands/extra/colours", {"locale": "all"}, selected_field="colour", query="ee")
    assert answer == {"type": "ok", "data": {"items": [{"label": "Green", "value": "green"}]}}


def test_a_field_that_takes_the_rest_of_the_line_replaces_the_words_field():
    rest = replace(EXTRA, fields=(Field("text", position=-1),))
    (field,) = rest.form().fields
    assert field.name == "text"


@pytest.mark.parametrize(
    "lookups",
    [
        pytest.param({}, id="a dynamic select without a handler"),
        pytest.param({"colour": ok, "size": ok}, id="a handler without a field"),
    ],
)
def test_a_lookup_handler_for_each_dynamic_select_and_only_those(lookups):
    with pytest.raises(ValueError, match="name a lookup handler for each dynamic select field"):
        replace(EXTRA, fields=(COLOUR,), lookups=lookups)


def test_a_field_the_plugin_would_drop_stops_the_app_when_the_table_is_read():
    # The SDK's builders refuse it (here a label of two words, which is no flag): the table cannot hold it.
    with pytest.raises(ValueError, match="must be one word"):
        replace(EXTRA, fields=(Field("colour", label="the colour"),))


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


@pytest.mark.parametrize("path", ["/ping", "/oauth2/connect", "/oauth2/complete", "/webhook", "/install"])
@pytest.mark.parametrize("whose", ["submit", "lookup"])
def test_a_command_on_a_path_the_plugin_refuses_stops_the_app(path, whose):
    extra = (
        replace(EXTRA, path=path) if whose == "submit" else replace(EXTRA_WITH_FORM, fields=(replace(COLOUR, lookup=Call(path)),))
    )
    with pytest.raises(ValueError, match="cannot be a command's call path"):
        create_app(make_settings(), commands=(*COMMANDS, extra))


def test_a_relative_call_path_stops_the_app():
    with pytest.raises(ValueError, match="must be a clean absolute path"):
        create_app(make_settings(), commands=(*COMMANDS, replace(EXTRA, path="commands/extra")))


def test_two_commands_on_one_path_stop_the_app():
    with pytest.raises(ValueError, match="two handlers"):
        create_app(make_settings(), commands=(*COMMANDS, replace(EXTRA, path=COMMANDS[0].path)))
    with pytest.raises(ValueError, match="two handlers"):  # a lookup on a command's path
        create_app(
            make_settings(), commands=(*COMMANDS, replace(EXTRA_WITH_FORM, fields=(replace(COLOUR, lookup=Call(EXTRA.path)),)))
        )


def test_a_token_handler_answers_a_form_as_well_as_a_text(installed, cipher):
    @uses_token
    def ask(call, services, token):
        return form(Form(title=f"token {token}", submit=Call("/commands/extra/submit"), fields=[Field("x")]))

    app = create_app(make_settings(), commands=(*COMMANDS, replace(EXTRA, expand=TOKEN_USE, handler=ask)))
    plugin = fake_plugin(app.test_client(), installed)
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    plugin.store_user_record(ALICE, cipher.seal(make_record(access_token="ya29.fresh"), user_id=ALICE.id))
    answer = plugin.call("/commands/extra", TOKEN_USE)
    assert answer["type"] == "form" and answer["form"]["title"] == "token ya29.fresh", answer
    plugin.store_user_record(ALICE, None)  # disconnected: the handler does not run
    assert plugin.call("/commands/extra", TOKEN_USE) == {"type": "error", "text": messages.text("not_connected")}
