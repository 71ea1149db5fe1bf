"""The emulator's slash-command parser against the webapp's own test data: `app_command_parser.test.ts` and
`tests/app_command_parser_test_data.ts` in mattermost/mattermost, under
`webapp/channels/src/components/suggestion/command_provider/app_command_parser/` (the submit cases of its
matchBinding, parseForm and composeCommandSubmitCall tables; autocomplete is no part of a command runner)."""

from __future__ import annotations

from typing import Any

import pytest

from mattermost_apps.testing import User
from mattermost_apps.testing.emulator.commands import ParsedCommand, State, compose_submit_call, is_app_command, normalize

# app_command_parser_test_data.ts
VIEW = {
    "app_id": "jira",
    "label": "view",
    "location": "/command/jira/issue/view",
    "description": "View details of a Jira issue",
    "form": {
        "submit": {"path": "/view-issue"},
        "fields": [
            {
                "name": "project",
                "label": "project",
                "description": "The Jira project description",
                "type": "dynamic_select",
                "hint": "The Jira project hint",
                "is_required": True,
                "lookup": {"path": "/view-issue-lookup"},
            },
            {
                "name": "issue",
                "position": 1,
                "description": "The Jira issue key",
                "type": "text",
                "hint": "MM-11343",
                "is_required": True,
            },
        ],
    },
}
CREATE = {
    "app_id": "jira",
    "label": "create",
    "location": "/command/jira/issue/create",
    "description": "Create a new Jira issue",
    "icon": "Create icon",
    "hint": "Create hint",
    "form": {
        "submit": {"path": "/create-issue"},
        "fields": [
            {
                "name": "project",
                "label": "project",
                "description": "The Jira project description",
                "type": "dynamic_select",
                "hint": "The Jira project hint",
                "lookup": {"path": "/create-issue-lookup"},
            },
            {
                "name": "summary",
                "label": "summary",
                "description": "The Jira issue summary",
                "type": "text",
                "hint": "The thing is working great!",
            },
            {"name": "verbose", "label": "verbose", "description": "display details", "type": "bool", "hint": "yes or no!"},
            {
                "name": "epic",
                "label": "epic",
                "description": "The Jira epic",
                "type": "static_select",
                "hint": "The thing is working great!",
                "options": [{"label": "Dylan Epic", "value": "epic1"}, {"label": "Michael Epic", "value": "epic2"}],
            },
        ],
    },
}
REST = {
    "app_id": "jira",
    "label": "rest",
    "location": "rest",
    "description": "rest description",
    "icon": "rest icon",
    "hint": "rest hint",
    "form": {
        "submit": {"path": "/create-issue"},
        "fields": [
            {"name": "summary", "label": "summary", "description": "The Jira issue summary", "type": "text", "position": -1},
            {"name": "verbose", "label": "verbose", "description": "display details", "type": "bool", "hint": "yes or no!"},
        ],
    },
}
BINDINGS = [
    {
        "location": "/command/jira",
        "app_id": "jira",
        "label": "jira",
        "description": "Interact with your Jira instance",
        "icon": "Jira icon",
        "hint": "Jira hint",
        "bindings": [
            {
                "location": "/command/jira/issue",
                "app_id": "jira",
                "label": "issue",
                "description": "Interact with Jira issues",
                "icon": "Issue icon",
                "hint": "Issue hint",
                "bindings": [VIEW, CREATE, REST],
            }
        ],
    },
    {
        "location": "/command/other",
        "app_id": "other",
        "label": "other",
        "description": "Other description",
        "icon": "Other icon",
        "hint": "Other hint",
        "bindings": [
            {
                "location": "/command/other/sub1",
                "app_id": "other",
                "label": "sub1",
                "description": "Some Description",
                "form": {
                    "submit": {"path": "/submit_other"},
                    "fields": [
                        {
                            "name": "fieldname",
                            "label": "fieldlabel",
                            "description": "field description",
                            "type": "text",
                            "hint": "field hint",
                        }
                    ],
                },
            }
        ],
    },
]

# app_command_parser.test.ts, describe('matchBinding'), submit: (title, command, error, state, binding, incomplete, start)
MATCH_BINDING = [
    (
        "full command",
        '/jira issue create --project P  --summary = "SUM MA RY" --verbose --epic=epic2',
        None,
        State.END_COMMAND,
        "create",
        "--project",
        19,
    ),
    (
        "full command case insensitive",
        '/JiRa IsSuE CrEaTe --PrOjEcT P  --SuMmArY = "SUM MA RY" --VeRbOsE --EpIc=epic2',
        None,
        State.END_COMMAND,
        "create",
        "--PrOjEcT",
        19,
    ),
    ("incomplete top command", "/jir", "`/jir`: No matching command found in this workspace.", None, None, None, None),
    ("no space after the top command", "/jira", "You must select a subcommand.", None, None, None, None),
    ("space after the top command", "/jira ", "You must select a subcommand.", None, None, None, None),
    ("middle of subcommand", "/jira    iss", "You must select a subcommand.", None, None, None, None),
    ("second subcommand, no space", "/jira issue", "You must select a subcommand.", None, None, None, None),
    (
        "token after the end of bindings, no space",
        "/jira issue create  something",
        None,
        State.END_COMMAND,
        "create",
        "something",
        20,
    ),
    (
        "token after the end of bindings, with space",
        "/jira issue create  something  ",
        None,
        State.END_COMMAND,
        "create",
        "something",
        20,
    ),
]


def _deep(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)


@pytest.mark.parametrize(
    ("title", "command", "error", "state", "label", "incomplete", "start"), MATCH_BINDING, ids=[m[0] for m in MATCH_BINDING]
)
def test_match_binding(
    title: str, command: str, error: str | None, state: State | None, label: str | None, incomplete: str | None, start: int | None
) -> None:
    parsed = ParsedCommand(command).match_binding(_deep(BINDINGS))
    if error is not None:
        assert (parsed.state, parsed.error) == (State.ERROR, error)
        return
    assert parsed.error == ""
    assert parsed.binding is not None  # a match has a binding: narrows the Optional for its label
    assert (parsed.state, parsed.binding["label"], parsed.incomplete, parsed.incomplete_start) == (
        state,
        label,
        incomplete,
        start,
    )


# describe('parseForm'), submit: (title, command, error, state, binding, submit path, expected values, also absent)
PARSE_FORM = [
    (
        "happy full create",
        '/jira issue create --project `P 1`  --summary "SUM MA RY" --verbose --epic=epic2',
        None,
        State.END_VALUE,
        "create",
        "/create-issue",
        {"project": "P 1", "epic": "epic2", "summary": "SUM MA RY", "verbose": "true"},
        (),
    ),
    (
        "happy full create case insensitive",
        '/JiRa IsSuE CrEaTe --PrOjEcT `P 1`  --SuMmArY "SUM MA RY" --VeRbOsE --EpIc=epic2',
        None,
        State.END_VALUE,
        "create",
        "/create-issue",
        {"project": "P 1", "epic": "epic2", "summary": "SUM MA RY", "verbose": "true"},
        (),
    ),
    (
        "partial epic",
        '/jira issue create --project KT --summary "great feature" --epic M',
        None,
        State.END_VALUE,
        "create",
        "/create-issue",
        {"epic": "M"},
        (),
    ),
    (
        "happy full view",
        "/jira issue view --project=`P 1` MM-123",
        None,
        State.END_VALUE,
        "view",
        "/view-issue",
        {"project": "P 1", "issue": "MM-123"},
        (),
    ),
    (
        "happy view no parameters",
        "/jira issue view ",
        None,
        State.START_PARAMETER,
        "view",
        "/view-issue",
        {},
        ("project", "issue"),
    ),
    (
        "happy create flag no value",
        "/jira issue create --summary ",
        None,
        State.END_VALUE,
        "create",
        "/create-issue",
        {"summary": ""},
        (),
    ),
    (
        "error: unmatched tick",
        "/jira issue view --project `P 1",
        "Matching tick quote expected before end of input.",
        None,
        None,
        None,
        {},
        (),
    ),
    (
        "error: unmatched quote",
        '/jira issue view --project "P \\1',
        "Matching double quote expected before end of input.",
        None,
        None,
        None,
        {},
        (),
    ),
    (
        "missing required fields not a problem for parseCommand",
        '/jira issue view --project "P 1"',
        None,
        State.END_QUOTED_VALUE,
        "view",
        "/view-issue",
        {"project": "P 1"},
        ("issue",),
    ),
    ("error: invalid flag", "/jira issue view --wrong test", "Command does not accept flag `wrong`.", None, None, None, {}, ()),
    ("error: unexpected positional", "/jira issue create wrong", "Unable to identify argument.", None, None, None, {}, ()),
    (
        "error: multiple equal signs",
        "/jira issue create --project == test",
        "Multiple `=` signs are not allowed.",
        None,
        None,
        None,
        {},
        (),
    ),
    ("rest field", "/jira issue rest hello world", None, State.REST, "rest", "/create-issue", {"summary": "hello world"}, ()),
    (
        "rest field with other field",
        "/jira issue rest --verbose true hello world",
        None,
        State.REST,
        "rest",
        "/create-issue",
        {"summary": "hello world", "verbose": "true"},
        (),
    ),
    (
        "rest field as flag with other field",
        '/jira issue rest --summary "hello world" --verbose true',
        None,
        State.END_VALUE,
        "rest",
        "/create-issue",
        {"summary": "hello world", "verbose": "true"},
        (),
    ),
    (
        "error: rest after rest field flag",
        '/jira issue rest --summary "hello world" --verbose true hello world',
        "Unable to identify argument.",
        None,
        None,
        None,
        {},
        (),
    ),
]


@pytest.mark.parametrize(
    ("title", "command", "error", "state", "label", "path", "values", "absent"), PARSE_FORM, ids=[p[0] for p in PARSE_FORM]
)
def test_parse_form(
    title: str,
    command: str,
    error: str | None,
    state: State | None,
    label: str | None,
    path: str | None,
    values: dict[str, str],
    absent: tuple[str, ...],
) -> None:
    parsed = ParsedCommand(command).match_binding(_deep(BINDINGS)).parse_form()
    if error is not None:
        assert (parsed.state, parsed.error) == (State.ERROR, error)
        return
    assert parsed.error == ""
    assert (parsed.state, parsed.binding["label"], parsed.resolved_form["submit"]["path"]) == (state, label, path)  # type: ignore[index]
    assert {k: parsed.values.get(k) for k in values} == values
    if title == "happy view no parameters":
        assert parsed.values == {} and (parsed.incomplete, parsed.incomplete_start) == ("", 17)
    for name in absent:
        assert name not in parsed.values


# describe('composeCommandSubmitCall'): the parser was made with channel, team and root post ids
CONTEXT = {"channel_id": "current_channel_id", "root_id": "root_id", "team_id": "team_id"}
BASE = {"context": {"app_id": "jira", "location": "/command/jira/issue/create", **CONTEXT}, "path": "/create-issue"}


@pytest.mark.parametrize(
    ("command", "values"),
    [
        ("/jira issue create", {}),
        (
            '/jira issue create --summary "Here it is" --epic epic1 --verbose true --project',
            {"summary": "Here it is", "epic": {"label": "Dylan Epic", "value": "epic1"}, "verbose": True, "project": ""},
        ),
    ],
    ids=["empty form", "full form"],
)
def test_compose_command_submit_call(command: str, values: dict[str, Any]) -> None:
    request, problem = compose_submit_call(command, _deep(BINDINGS), {}, CONTEXT)
    assert problem == ""
    # the test's `query: undefined, selected_field: undefined` are keys JSON leaves out
    assert request == {**BASE, "raw_command": command, "expand": {}, "values": values}


# -- read from app_command_parser.ts (composeCommandSubmitCall, expandOptions) and actions/command.ts -----------


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("/jira issue view MM-1", "Required fields missing: `project`."),
        (
            "/jira issue view",
            "Required fields missing: `project, undefined`.",
        ),  # `issue` has no label: JavaScript prints undefined
        ("/jira issue create --epic nope", "Unknown option for field `epic`: `nope`.\n"),
        ("/jira", "Parsing error: You must select a subcommand."),
        ("/other sub1 --fieldname x", "Parsing error: Command does not accept flag `fieldname`."),  # the label is `fieldlabel`
    ],
)
def test_what_the_webapp_says_instead_of_submitting(command: str, problem: str) -> None:
    assert compose_submit_call(command, _deep(BINDINGS), {}) == (None, problem)


def test_a_user_field_takes_a_username() -> None:
    binding = {
        "app_id": "a",
        "label": "who",
        "location": "/command/who",
        "form": {"submit": {"path": "/who"}, "fields": [{"name": "user", "label": "user", "type": "user", "position": 1}]},
    }
    users = {"u1": User(id="u1", username="alice")}
    request, _ = compose_submit_call("/who @alice", [binding], users)
    assert request is not None and request["values"] == {"user": {"label": "alice", "value": "u1"}}
    assert compose_submit_call("/who @mallory", [binding], users) == (None, "Unknown user for field `user`: `mallory`.\n")


@pytest.mark.parametrize(
    ("typed", "normalized", "is_app"),
    [
        ("/weather", "/weather ", True),  # the webapp adds the space: so '/weather' alone is the app's
        ("/WEATHER   help  ", "/weather help", True),
        ("/weatherx help", "/weatherx help", False),
        ("/other", "/other ", False),
    ],
)
def test_the_webapp_normalises_the_message_before_it_looks_for_an_app_command(typed: str, normalized: str, is_app: bool) -> None:
    assert normalize(typed) == normalized
    assert is_app_command(normalize(typed), [{"label": "weather"}]) is is_app
