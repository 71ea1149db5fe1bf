"""CallRequest's value accessors on every shape the web client and the plugin send, and the response builders.

Command-line values come from the emulator's port of the web client's command parser, on a command built with
the form builders; the plugin passes `values` on untouched (`build_call_request` composes what the app gets).
Modal values follow what the modal sends for each field type.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mattermost_apps import BadCallRequest, Binding, Call, CallRequest, Field, Form, Option, error, form, lookup, slash_commands
from mattermost_apps.testing import InstalledApp, User, build_call_request
from mattermost_apps.testing.emulator import webclient
from mattermost_apps.testing.emulator.cleanup import clean_bindings
from mattermost_apps.testing.emulator.commands import compose_submit_call
from mattermost_apps.testing.emulator.plugin import decode_call_response

APP_ID = "hello-app"  # an App of the tests' own: the SDK knows nothing of the template around it
SITE_URL = "https://mm.example.com"
ALICE = User(id="a1icea1icea1icea1icea1icea", username="alice")
BOT = User(id="b0tb0tb0tb0tb0tb0tb0tb0tb0", username="hello-bot", is_bot=True)
APP = InstalledApp(
    app_id=APP_ID, root_url="http://hello.test", secret="s" * 32, bot=BOT, bot_access_token="bottoken", site_url=SITE_URL
)
COLOURS = [Option("Red", "red"), Option("Green", "green")]
LOOKUP = Call("/greet/lookup")
GREET = Binding(
    "greet",
    form=Form(
        submit=Call("/greet/submit", expand={"acting_user": "id"}),
        fields=[
            Field("message", position=-1),
            Field("colour", "static_select", options=COLOURS),
            Field("colours", "static_select", options=COLOURS, multiselect=True),
            Field("calendar", "dynamic_select", lookup=LOOKUP),
            Field("calendars", "dynamic_select", lookup=LOOKUP, multiselect=True),
            Field("who", "user"),
            Field("loud", "bool"),
            Field("count", subtype="number"),
        ],
    ),
)


def typed(command: str) -> CallRequest:
    """The CallRequest the app gets when a user types `command` (a /hello command made of GREET)."""
    bindings, problems = clean_bindings(
        [slash_commands(Binding("hello", bindings=[GREET]))],
        app_id=APP_ID,
        granted_locations=("/command",),
        plugin_url=SITE_URL + "/plugins/com.mattermost.apps",
        user_agent="webapp",
    )
    assert problems == []
    commands = webclient.command_bindings(webclient.validate_bindings(bindings))
    sent, problem = compose_submit_call(command, commands, {ALICE.id: ALICE})
    assert problem == "" and sent is not None, problem
    body = build_call_request(APP, sent, acting_user=ALICE, values=sent.get("values"), raw_command=sent["raw_command"])
    return CallRequest.from_bytes(json.dumps(body).encode())


# (command typed, field, value(), option(), values_of() (None: refused), bool_value())
TYPED: dict[str, tuple[str, str, str, tuple[str, str] | None, list[str] | None, bool | None]] = {
    "static option by value": ("--colour red", "colour", "red", ("Red", "red"), ["red"], None),
    "dynamic text typed": (
        "--calendar `Team offsite`",
        "calendar",
        "Team offsite",
        ("Team offsite",) * 2,
        ["Team offsite"],
        None,
    ),
    "dynamic item picked": ("--calendar cal_123", "calendar", "cal_123", ("cal_123", "cal_123"), ["cal_123"], None),
    "static multiselect list": ("--colours [red, green]", "colours", "", None, ["red", "green"], None),
    "static multiselect one": ("--colours green", "colours", "green", ("Green", "green"), ["green"], None),
    "dynamic multiselect list": ("--calendars [a, b]", "calendars", "", None, [], None),
    "user": ("--who @alice", "who", ALICE.id, ("alice", ALICE.id), [ALICE.id], None),
    "bool bare": ("--loud", "loud", "true", None, None, True),
    "bool false": ("--loud false", "loud", "false", None, None, False),
    "number on a command line": ("--count 3", "count", "3", ("3", "3"), ["3"], None),
    "rest of the line": ("say  hello --there", "message", "say  hello --there", None, ["say  hello --there"], None),
    "absent": ("--loud", "colour", "", None, [], False),
}


@pytest.mark.parametrize(("command", "name", "value", "option", "values", "flag"), TYPED.values(), ids=TYPED.keys())
def test_values_typed_on_a_command_line(command, name, value, option, values, flag):
    call = typed("/hello greet " + command)
    assert call.raw_command == "/hello greet " + command
    if values is None:
        with pytest.raises(BadCallRequest):
            call.values_of(name)
    else:
        assert call.values_of(name) == values
    if isinstance(call.values.get(name), list):  # a list is for values_of() only
        for accessor in (call.value, call.option, call.bool_value):
            with pytest.raises(BadCallRequest):
                accessor(name)
        return
    assert call.value(name) == value
    if option is not None or isinstance(call.values.get(name), dict | None):
        assert call.option(name) == option
    if flag is not None:
        assert call.bool_value(name) is flag


def test_the_dynamic_multiselect_typed_on_a_command_line_arrives_empty():
    assert typed("/hello greet --calendars [a, b]").values["calendars"] == []  # the web client's bug, as it is


# What the modal sends, per field type: (raw value, value(), option(), values_of() (None: refused), bool_value())
MODAL: dict[str, tuple[Any, str, tuple[str, str] | None, list[str] | None, bool | None]] = {
    "text": ("  hello ", "hello", ("hello", "hello"), ["hello"], None),
    "text cleared": ("", "", None, [], None),
    "never touched": (None, "", None, [], False),
    "number": (42, "42", None, None, None),
    "number not a number": (None, "", None, [], False),
    "select picked": ({"label": "Team offsite", "value": "cal_123"}, "cal_123", ("Team offsite", "cal_123"), ["cal_123"], None),
    "user picked": ({"label": "Alice A", "value": ALICE.id}, ALICE.id, ("Alice A", ALICE.id), [ALICE.id], None),
    "multiselect": ([{"label": "A", "value": "a"}, {"label": "B", "value": "b"}], "", None, ["a", "b"], None),
    "multiselect emptied": ([], "", None, [], None),
    "bool": (True, "true", None, None, True),
    "bool off": (False, "false", None, None, False),
    "submit button": ("save", "save", ("save", "save"), ["save"], None),
    "bool as a string (what Go's BoolValue takes)": ("false", "false", ("false", "false"), ["false"], False),
    "option holding a bool string": ({"label": "Yes", "value": "true"}, "true", ("Yes", "true"), ["true"], True),
}


@pytest.mark.parametrize(("raw", "value", "option", "values", "flag"), MODAL.values(), ids=MODAL.keys())
def test_values_sent_by_the_modal(raw, value, option, values, flag):
    call = CallRequest.parse({"path": "/greet/submit", "values": {"x": raw}})
    if isinstance(raw, list):
        with pytest.raises(BadCallRequest):
            call.value("x")
    else:
        assert call.value("x") == value
    if isinstance(raw, str | dict) or raw is None:
        assert call.option("x") == option
    if values is None:
        with pytest.raises(BadCallRequest):
            call.values_of("x")
    else:
        assert call.values_of("x") == values
    if flag is not None:
        assert call.bool_value("x") is flag


BAD_SHAPES: dict[str, tuple[str, Any]] = {
    "value: an option with a number": ("value", {"label": "x", "value": 3}),
    "value: an option with no value": ("value", {"label": "x"}),
    "value: an option with a number label": ("value", {"label": 1, "value": "x"}),
    "value: a nested object": ("value", {"value": {"nested": True}}),
    "value: a list": ("value", ["a"]),
    "option: a bool": ("option", True),
    "option: a number": ("option", 4),
    "option: a list": ("option", [{"label": "a", "value": "a"}]),
    "values_of: a list of numbers": ("values_of", [1, 2]),
    "values_of: a list of lists": ("values_of", [["a"]]),
    "values_of: a bool": ("values_of", True),
    "values_of: an option with null value": ("values_of", [{"label": "a", "value": None}]),
    "bool_value: another word": ("bool_value", "yes"),
    "bool_value: a number": ("bool_value", 1),
    "bool_value: a list": ("bool_value", [True]),
    "lone surrogate": ("value", {"label": "x", "value": "\ud800"}),
}


@pytest.mark.parametrize(("accessor", "raw"), BAD_SHAPES.values(), ids=BAD_SHAPES.keys())
def test_a_value_of_a_shape_no_client_sends_is_a_bad_request(accessor, raw):
    call = CallRequest.parse({"values": {"x": raw}})
    with pytest.raises(BadCallRequest) as refused:
        getattr(call, accessor)("x")
    assert (refused.value.reason, refused.value.field) in {("bad_value", "x"), ("bad_text", "values.x")}


# -- lookups ---------------------------------------------------------------------------------------------------


def test_a_lookup_call_carries_the_field_and_what_was_typed_and_no_call_type():
    body = build_call_request(
        APP, LOOKUP.to_json(), acting_user=ALICE, values={"colour": COLOURS[0].to_json()}, selected_field="calendar", query="Tea"
    )
    call = CallRequest.from_bytes(json.dumps(body).encode())
    assert (call.path, call.selected_field, call.query, call.value("colour")) == ("/greet/lookup", "calendar", "Tea", "red")
    assert "type" not in body
    opened = CallRequest.from_bytes(json.dumps(build_call_request(APP, LOOKUP.to_json(), acting_user=ALICE)).encode())
    assert (opened.selected_field, opened.query, opened.raw_command) == ("", "", "")  # empty keys are not sent


@pytest.mark.parametrize("key", ["selected_field", "query"])
def test_selected_field_and_query_must_be_strings(key):
    with pytest.raises(BadCallRequest) as refused:
        CallRequest.parse({key: ["x"]})
    assert (refused.value.reason, refused.value.field) == ("wrong_type", key)


def test_a_lookup_answer_has_string_items_and_no_blank_value():
    answer = lookup(["cal_1", Option("Team offsite", "cal_2", icon_data="https://example.com/c.png"), Option("Blank", " "), ""])
    assert answer == {
        "type": "ok",
        "data": {
            "items": [
                {"label": "cal_1", "value": "cal_1"},
                {"label": "Team offsite", "value": "cal_2", "icon_data": "https://example.com/c.png"},
            ]
        },
    }
    assert decode_call_response(json.dumps(answer).encode()) == answer  # the plugin passes data on untouched
    assert lookup([]) == {"type": "ok", "data": {"items": []}}


# -- errors and forms ------------------------------------------------------------------------------------------


def test_an_error_puts_field_errors_in_data_errors():
    answer = error("Fix the form.", {"calendar": "No such calendar"})
    assert answer == {"type": "error", "text": "Fix the form.", "data": {"errors": {"calendar": "No such calendar"}}}
    assert decode_call_response(json.dumps(answer).encode()) == answer
    assert webclient.submit_response(dict(answer)) == answer
    assert error("Just text.") == {"type": "error", "text": "Just text."}  # what every existing caller gets
    assert error("", {"calendar": "No such calendar"})["data"]["errors"] == {"calendar": "No such calendar"}


def test_an_error_with_nothing_to_show_is_refused():
    with pytest.raises(ValueError, match="the modal just closes"):
        error("")


def test_a_form_answer_takes_a_built_form_or_its_json():
    built = Form(title="Greet", submit=Call("/greet/submit"), fields=[Field("who", "user")])
    assert form(built) == form(built.to_json()) == {"type": "form", "form": built.to_json()}
    assert webclient.submit_response(form(built))["type"] == "form"  # the client opens it
