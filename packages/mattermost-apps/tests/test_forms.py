"""The form builders: what they build passes the plugin v1.2.2's cleanup and the web client's own code unchanged, and
what either would drop without a word is refused when it is built, with one sentence.

The plugin's cleanup is the emulator's port (`mattermost_apps.testing.emulator.cleanup`); the web client's is mattermost-redux's
`validateBindings` and `cleanForm`, run by node (`mattermost_apps.testing.web_client`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mattermost_apps import Binding, Call, Field, Form, Option, form, slash_commands
from mattermost_apps.testing import User
from mattermost_apps.testing import web_client as web_client_code
from mattermost_apps.testing.emulator import webclient
from mattermost_apps.testing.emulator.cleanup import clean_bindings, clean_form, normalize_static_path
from mattermost_apps.testing.emulator.commands import compose_submit_call

APP_ID = "hello-app"  # an App of the tests' own: the SDK knows nothing of the template around it
PLUGIN_URL = "https://mm.example.com/plugins/com.mattermost.apps"
NODE_MODULES = Path(__file__).resolve().parent / "node" / "node_modules"
COLOURS = [Option("Red", "red"), Option("Green", "green", icon_data="https://example.com/green.png")]

LOOKUP = Call("/hello/lookup", expand={"acting_user": "summary", "oauth2_user": "+all"}, state={"kind": "calendar"})
EVERY_FIELD = [
    Field("message", position=-1, hint="what to say", max_length=500, min_length=1),
    Field("who", "user", is_required=True, position=1, modal_label="Who to greet", value=Option("alice", "u1")),
    Field("cc", "user", multiselect=True, value=[Option("bob", "u2"), Option("carol", "u3")]),
    Field("where", "channel", description="A *channel*", value=Option("Town Square", "c1")),
    Field("colour", "static_select", options=COLOURS, value=COLOURS[0], label="color"),
    Field("colours", "static_select", options=COLOURS, multiselect=True),
    Field("calendar_id", "dynamic_select", lookup=LOOKUP, position=2, hint="Team offsite"),
    Field("calendars", "dynamic_select", lookup=LOOKUP, multiselect=True),
    Field("loud", "bool", value=True, description="Shout it"),
    Field("note", "markdown", description="**Read this** first."),
    Field("secret_word", readonly=True, value="swordfish"),
    *(
        Field(f"text_{subtype}", subtype=subtype)
        for subtype in ("input", "textarea", "number", "email", "tel", "url", "password")
    ),
]
HELLO = Binding(
    "hello",
    description="Say hello",
    hint="[who]",
    icon="hello.png",
    form=Form(title="Hello", header="Say *hello*", icon="hello.png", submit=Call("/hello/submit"), fields=EVERY_FIELD),
)
COMMANDS = slash_commands(
    Binding(
        "greeter",
        description="Greetings",
        icon="https://example.com/icon.png",
        bindings=[
            HELLO,
            Binding("ping", submit=Call("/ping/submit", expand={"locale": "all", "channel": ""})),
            Binding("admin", bindings=[Binding("reset", description="Start again", submit=Call("/admin/reset"))]),
        ],
    )
)
MODAL = Form(
    title="Pick",
    submit=Call("/pick/submit", state=[1, "two"]),
    source=Call("/pick/source", expand={"acting_user": "id"}),
    submit_buttons="action",
    fields=[
        Field("kind", "static_select", options=[Option("A", "a"), Option("B", "b")], refresh=True),
        Field("action", "static_select", options=[Option("Save", "save"), Option("Discard", "discard")]),
    ],
)
SOURCE_ONLY = Form(source=Call("/pick/source"))  # valid outside commands: a channel header or post menu binding


def with_plugin_rewrites(value: Any, top: bool = True) -> Any:
    """The only changes the plugin makes: relative icons point at the app's static route, sub-bindings get the app id."""
    out = copy.deepcopy(value)
    if isinstance(out, dict):
        if out.get("icon"):
            out["icon"] = normalize_static_path(PLUGIN_URL, APP_ID, out["icon"])
        if "location" in out and not top:
            out["app_id"] = APP_ID
        for key in ("bindings", "form"):
            if key in out:
                out[key] = with_plugin_rewrites(out[key], top=False)
    if isinstance(out, list):
        return [with_plugin_rewrites(item, top) for item in out]
    return out


def through_the_plugin(bindings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cleaned, problems = clean_bindings(
        copy.deepcopy(bindings), app_id=APP_ID, granted_locations=("/command",), plugin_url=PLUGIN_URL, user_agent="webapp"
    )
    assert problems == []
    return cleaned


def test_the_plugin_passes_every_binding_and_field_as_built():
    built = [COMMANDS]
    assert through_the_plugin(built) == with_plugin_rewrites(built)
    assert len(built[0]["bindings"][0]["bindings"][0]["form"]["fields"]) == len(EVERY_FIELD) == 18


@pytest.mark.parametrize("built", [HELLO.form, MODAL, SOURCE_ONLY], ids=["command form", "modal", "source only"])
def test_the_plugin_passes_every_form_as_built(built):
    problems: list[str] = []
    assert built is not None
    assert clean_form(built.to_json(), PLUGIN_URL, APP_ID, problems) == with_plugin_rewrites(built.to_json())
    assert problems == []


def test_every_field_type_and_key_plugin_v1_2_2_knows_is_built():
    fields = [f.to_json() for f in EVERY_FIELD]
    assert {f["type"] for f in fields} == {"text", "static_select", "dynamic_select", "bool", "user", "channel", "markdown"}
    assert {f.get("subtype") for f in fields} - {None} == {"input", "textarea", "number", "email", "tel", "url", "password"}
    keys = {key for f in fields for key in f} | {key for f in MODAL.to_json()["fields"] for key in f}
    go_field_keys = {"name", "type", "is_required", "readonly", "value", "description", "label", "hint", "position"}
    go_field_keys |= {"modal_label", "multiselect", "refresh", "options", "lookup", "subtype", "min_length", "max_length"}
    assert keys == go_field_keys  # `apps.Field`'s keys, every one


def test_a_built_call_keeps_its_own_expand():
    expand = {"acting_user": "summary"}
    call = Call("/a", expand=expand)
    expand["oauth2_user"] = "all"  # a shared dict of defaults, changed later for another call
    assert call.to_json() == {"path": "/a", "expand": {"acting_user": "summary"}}


def test_a_label_defaults_to_the_name_with_dashes_and_is_always_sent():
    # The plugin writes the default back, the client does not: sending it makes both read the same flag.
    assert Field("calendar_id").label == "calendar-id"
    assert Field("calendar_id").to_json()["label"] == "calendar-id"
    assert Field("colour", label="color").to_json()["label"] == "color"


# -- the web client's own code ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web_client() -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    if not (NODE_MODULES / "mattermost-redux").is_dir():
        pytest.fail(f"mattermost-redux is not installed: run `npm ci` in {NODE_MODULES.parent} (`make test` does)")
    return lambda jobs: web_client_code.run(jobs, NODE_MODULES)


@pytest.mark.e2e
def test_the_web_client_keeps_every_binding_and_form_as_the_plugin_passed_it(web_client):
    bindings = through_the_plugin([COMMANDS])
    forms = [f.to_json() for f in (HELLO.form, MODAL, SOURCE_ONLY) if f is not None]
    validated, *cleaned = web_client(
        [{"fn": "validateBindings", "arg": bindings}, *({"fn": "cleanForm", "arg": f} for f in forms)]
    )
    assert validated["returned"] == web_client_code.prefixed(bindings)
    assert [result["arg"] for result in cleaned] == forms


# -- a command typed with the built flags (the web client's parser, as the emulator ports it) ---------------


ALICE = User(id="a1icea1icea1icea1icea1icea", username="alice")


def typed(command: str) -> tuple[dict[str, Any] | None, str]:
    commands = webclient.command_bindings(webclient.validate_bindings(through_the_plugin([COMMANDS])))
    return compose_submit_call(command, commands, {ALICE.id: ALICE})


def test_built_flags_positions_and_defaults_are_what_the_command_line_takes():
    request, problem = typed("/greeter hello @alice cal_1 say  hi --there")
    assert problem == "" and request is not None and request["path"] == "/hello/submit"
    assert request["values"] == {
        "who": {"label": "alice", "value": ALICE.id},  # position 1
        "calendar_id": {"label": "cal_1", "value": "cal_1"},  # position 2
        "message": "say  hi --there",  # position -1: the rest of the line, as typed
        "colour": COLOURS[0].to_json(),  # the defaults of fields not typed
        "loud": True,
        "secret_word": "swordfish",
    }
    assert typed("/greeter hello --color green --calendar-id x")[1] == "Required fields missing: `who`."
    assert typed("/greeter hello --colour green")[1] == "Parsing error: Command does not accept flag `colour`."
    request, problem = typed("/greeter ping")
    assert problem == "" and request is not None and request["path"] == "/ping/submit"
    assert request["expand"] == {"locale": "all"}  # an empty level is not sent


# -- refusals: each sentence, and the silent drop it stands for -----------------------------------------------

REFUSALS: dict[str, tuple[Callable[[], object], str]] = {
    "spaced name": (lambda: Field("two words"), "Field name 'two words' must be one word"),
    "empty name": (lambda: Field(""), "Field name '' must be one word"),
    "spaced label": (lambda: Field("x", label="Client ID"), "Field x: label 'Client ID' must be one word (it is the flag)"),
    "repeated label": (
        lambda: Form(submit=Call("/s"), fields=[Field("a_b"), Field("x", label="A-B")]),
        "Field x: label 'A-B' is another field's too (flags ignore case).",
    ),
    "repeated name": (
        lambda: Form(submit=Call("/s"), fields=[Field("a"), Field("a", label="b")]),
        "Field a: another field has the same name.",
    ),
    "unknown type": (lambda: Field("x", "radio"), "Field x: type 'radio' is not one of text,"),  # type: ignore[arg-type]
    "subtype off text": (lambda: Field("x", "bool", subtype="email"), "Field x: subtype 'email' needs type text"),
    "static select without options": (lambda: Field("x", "static_select"), "Field x: a static_select needs at least one"),
    "option without label": (
        lambda: Field("x", "static_select", options=[Option("", "v")]),
        "Field x: every option needs a label and a value",
    ),
    "option without value": (
        lambda: Field("x", "static_select", options=[Option("L", "")]),
        "Field x: every option needs a label and a value",
    ),
    "option not a string": (lambda: Option("L", 3), "Option 'L': label, value and icon_data must be strings."),  # type: ignore[arg-type]
    "repeated option": (
        lambda: Field("x", "static_select", options=[Option("A", "a"), Option("B", "a")]),
        "Field x: option 'B' repeats a label or a value.",
    ),
    "options off static select": (lambda: Field("x", options=COLOURS), "Field x: only a static_select has options."),
    "dynamic select without lookup": (lambda: Field("x", "dynamic_select"), "Field x: a dynamic_select needs a lookup call"),
    "lookup off dynamic select": (lambda: Field("x", lookup=LOOKUP), "Field x: a dynamic_select needs a lookup call"),
    "rest of line off text": (lambda: Field("x", "user", position=-1), "Field x: position must be 1 or more, or -1"),
    "negative position": (lambda: Field("x", position=-2), "Field x: position must be 1 or more, or -1"),
    "repeated position": (
        lambda: Form(submit=Call("/s"), fields=[Field("a", position=1), Field("b", position=1)]),
        "Field b: another field already has position 1.",
    ),
    "multiselect on text": (lambda: Field("x", multiselect=True), "Field x: multiselect is for static_select,"),
    "lengths off text": (lambda: Field("x", "bool", max_length=3), "Field x: min_length and max_length are for text"),
    "min over max": (lambda: Field("x", min_length=5, max_length=3), "Field x: lengths must be 0 or more"),
    "empty markdown": (lambda: Field("x", "markdown"), "Field x: a markdown field shows its description, which is empty."),
    "text value not a string": (lambda: Field("x", value=3), "Field x: value 3 does not fit a text field."),  # type: ignore[arg-type]
    "select value not an option": (lambda: Field("x", "user", value="u1"), "Field x: value 'u1' does not fit a user field."),
    "list value without multiselect": (
        lambda: Field("x", "user", value=[Option("a", "u1")]),
        "Field x: value (Option(label='a', value='u1', icon_data=''),) does not fit a user field.",
    ),
    "refresh without source": (
        lambda: Form(submit=Call("/s"), fields=[Field("x", refresh=True)]),
        "Field x: refresh calls the form's source, and this form has none.",
    ),
    "submit_buttons not a static select": (
        lambda: Form(submit=Call("/s"), submit_buttons="x", fields=[Field("x")]),
        "submit_buttons 'x' must name a static_select field of the form.",
    ),
    "form without submit or source": (lambda: Form(title="t"), "A form needs a submit call (or a source call"),
    "command form without submit": (
        lambda: Binding("x", form=SOURCE_ONLY),
        "Command x: its form needs a submit call; a command never calls source.",
    ),
    "command with two things to do": (
        lambda: Binding("x", submit=Call("/s"), form=MODAL),
        "Command x: give exactly one of submit, form or bindings.",
    ),
    "command with nothing to do": (lambda: Binding("x"), "Command x: give exactly one of submit, form or bindings."),
    "spaced command label": (lambda: Binding("say hi", submit=Call("/s")), "Command label 'say hi' must be one word"),
    "repeated sub-command": (
        lambda: Binding("x", bindings=[Binding("a", submit=Call("/a")), Binding("A", submit=Call("/b"))]),
        "Command x: two sub-commands have the same label.",
    ),
    "repeated command": (
        lambda: slash_commands(Binding("a", submit=Call("/a")), Binding("a", submit=Call("/b"))),
        "Two slash commands have the same label.",
    ),
    "form icon out of the static folder": (
        lambda: Form(submit=Call("/s"), icon="../secret.png"),
        "Icon '../secret.png' must be a file of the app's static folder",
    ),
    "command icon above the static folder": (
        lambda: Binding("x", icon="a/../../icon.png", submit=Call("/s")),
        "Icon 'a/../../icon.png' must be a file of the app's static folder",
    ),
    "relative call path": (lambda: Call("hello"), "Call path 'hello' must be a clean absolute path"),
    "unclean call path": (lambda: Call("/a/../b"), "Call path '/a/../b' must be a clean absolute path"),
    "unknown expand key": (lambda: Call("/a", expand={"acting_user_id": "all"}), "Call /a: 'acting_user_id' is not something"),
    "expand level none": (lambda: Call("/a", expand={"channel": "none"}), "Call /a: expand level 'none' for channel is not"),
    "form response without submit": (lambda: form(SOURCE_ONLY), "A form response needs a submit call"),
    "form response dict without submit": (lambda: form({"source": {"path": "/s"}}), "A form response needs a submit call"),
}


@pytest.mark.parametrize(("build", "sentence"), REFUSALS.values(), ids=REFUSALS.keys())
def test_what_would_be_dropped_silently_is_refused_with_one_sentence(build, sentence):
    with pytest.raises(ValueError) as refused:
        build()
    message = str(refused.value)
    assert message.startswith(sentence)
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence


def plugin_fields(fields: list[dict[str, Any]]) -> list[str]:
    cleaned = clean_form({"submit": {"path": "/s"}, "fields": fields}, PLUGIN_URL, APP_ID)
    return [f["name"] for f in cleaned.get("fields", [])]


def client_fields(fields: list[dict[str, Any]]) -> list[str]:
    cleaned: dict[str, Any] = {"submit": {"path": "/s"}, "fields": copy.deepcopy(fields)}
    webclient.clean_form(cleaned)
    return [f["name"] for f in cleaned["fields"]]


# The JSON each refusal keeps out, and what the plugin or the client does with it (without a word to the user).
SILENT_DROPS: dict[str, list[dict[str, Any]]] = {
    "spaced name": [{"name": "two words", "type": "text"}],
    "spaced label": [{"name": "x", "type": "text", "label": "Client ID"}],
    "repeated label": [{"name": "a_b", "type": "text", "label": "a-b"}, {"name": "x", "type": "text", "label": "a-b"}],
    "static select without options": [{"name": "x", "type": "static_select"}],
    "dynamic select without lookup": [{"name": "x", "type": "dynamic_select"}],
}


@pytest.mark.parametrize("fields", SILENT_DROPS.values(), ids=SILENT_DROPS.keys())
def test_each_refused_field_is_one_the_plugin_drops(fields):
    assert len(plugin_fields(fields)) == len(fields) - 1


@pytest.mark.parametrize("icon", ["../secret.png", "a/../../b.png", "%2e%2e/b.png", "."])
def test_a_refused_icon_is_one_the_plugin_clears(icon):
    assert "icon" not in clean_form({"submit": {"path": "/s"}, "icon": icon}, PLUGIN_URL, APP_ID)
    with pytest.raises(ValueError, match="must be a file of the app's static folder"):
        Form(submit=Call("/s"), icon=icon)


@pytest.mark.parametrize("icon", ["icon.png", "/icon.png", "img//icon.png", "https://example.com/i.png"])
def test_an_icon_the_plugin_can_clean_is_taken(icon):
    assert clean_form({"submit": {"path": "/s"}, "icon": icon}, PLUGIN_URL, APP_ID)["icon"]
    assert Form(submit=Call("/s"), icon=icon).icon == icon


def test_the_client_drops_the_same_fields_and_a_label_repeated_in_another_case_takes_no_flag():
    for fields in SILENT_DROPS.values():
        assert len(client_fields(fields)) == len(fields) - 1
    two = [{"name": "a", "type": "text", "label": "Flag"}, {"name": "b", "type": "text", "label": "flag"}]
    assert plugin_fields(two) == client_fields(two) == ["a", "b"]  # both kept, but --flag matches the first only
    binding = {
        "app_id": APP_ID,
        "location": "x",
        "label": "x",
        "form": {"submit": {"path": "/s"}, "fields": two},
    }
    request, problem = compose_submit_call("/x --flag 1", [binding], {})
    assert problem == "" and request is not None and request["values"] == {"a": "1"}


def test_a_command_form_without_submit_cannot_be_run_and_a_form_answer_without_submit_is_refused():
    binding = {"app_id": APP_ID, "location": "x", "label": "x", "form": SOURCE_ONLY.to_json()}
    assert compose_submit_call("/x", [binding], {}, fetch_form=lambda b: None) == (None, "No submit call in binding or form.")
    answer = webclient.submit_response({"type": "form", "form": SOURCE_ONLY.to_json()})
    assert answer["type"] == "error"
