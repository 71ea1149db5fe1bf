"""Binding and form cleanup, from the plugin's own test tables at v1.2.2 (mattermost/mattermost-plugin-apps):
`server/proxy/bindings_test.go` (TestCleanAppBinding, TestMergeBindings), `server/proxy/form_test.go`
(TestCleanForm) and `test/restapitest/bindings.go` (requested locations), with Go's problem texts.

The Go tests build structs; here each struct is written as the JSON it decodes from, and the expected
struct as the JSON Go encodes it to (no `omitempty` zero values; a field's `type` and an option's `value`
always present)."""

from __future__ import annotations

from typing import Any

import pytest

from mattermost_apps.testing.emulator import golang
from mattermost_apps.testing.emulator.cleanup import (
    Scope,
    clean_app_binding,
    clean_bindings,
    clean_form,
    decode_binding,
    encode_binding,
    merge_bindings,
)

HELLO = {"path": "/hello"}
MAIN_COMMAND = "/command/main-command"

# server/proxy/bindings_test.go, TestCleanAppBinding: app "appid" granted /command and /channel_header.
# (name, binding in, location prefix, user agent, expected binding or None, expected problems)
CLEAN_APP_BINDING = [
    (
        "happy simplest",
        {"location": "test", "submit": HELLO},
        MAIN_COMMAND,
        "",
        {"app_id": "appid", "location": "test", "label": "test", "submit": HELLO},
        "",
    ),
    (
        "trim location",
        {"location": " test-1 \t", "submit": HELLO},
        MAIN_COMMAND,
        "",
        {"app_id": "appid", "location": "test-1", "label": "test-1", "submit": HELLO},
        "1 error occurred:\n\t* /command/main-command/test-1: trimmed whitespace from location\n\n",
    ),
    (
        "ERROR location PostMenu not granted",
        {"location": "test", "submit": HELLO},
        "/post_menu",
        "",
        None,
        "1 error occurred:\n\t* /post_menu/test: location is not granted: forbidden\n\n",
    ),
    (
        "trim command label",
        {"location": "test", "label": "\ntest-label \t", "submit": HELLO},
        MAIN_COMMAND,
        "",
        {"app_id": "appid", "location": "test", "label": "test-label", "submit": HELLO},
        "1 error occurred:\n\t* /command/main-command/test: trimmed whitespace from label test-label\n\n",
    ),
    (
        "label defaults to location for command",
        {"location": "test", "submit": HELLO},
        MAIN_COMMAND,
        "",
        {"app_id": "appid", "location": "test", "label": "test", "submit": HELLO},
        "",
    ),
    (
        "label does not default for non-commands",
        {"location": "test", "submit": HELLO},
        "/channel_header/some",
        "",
        {"app_id": "appid", "location": "test", "submit": HELLO},
        "",
    ),
    (
        "ERROR neither location nor label",
        {"submit": HELLO},
        MAIN_COMMAND,
        "",
        None,
        "1 error occurred:\n\t* /command/main-command: sub-binding with no location nor label\n\n",
    ),
    (
        "ERROR whitsepace in command label",
        {"location": "test", "label": "test label", "submit": HELLO},
        MAIN_COMMAND,
        "",
        None,
        '1 error occurred:\n\t* /command/main-command/test: command label "test label" has multiple words\n\n',
    ),
    (
        "normalize icon path",
        {"location": "test", "submit": HELLO, "icon": "a///static.icon"},
        MAIN_COMMAND,
        "",
        {"app_id": "appid", "location": "test", "label": "test", "icon": "/apps/appid/static/a/static.icon", "submit": HELLO},
        "",
    ),
    (
        "invalid icon path",
        {"submit": HELLO, "location": "test", "icon": "../a/...//static.icon"},
        MAIN_COMMAND,
        "",
        {"app_id": "appid", "location": "test", "label": "test", "submit": HELLO},
        '1 error occurred:\n\t* /command/main-command/test: invalid icon path "../a/...//static.icon" in binding\n\n',
    ),
    (
        "ERROR: icon required for ChannelHeader in webapp",
        {"location": "test", "submit": HELLO},
        "/channel_header",
        "webapp",
        None,
        "1 error occurred:\n\t* /channel_header/test: no icon in channel header binding\n\n",
    ),
    (
        "icon not required for ChannelHeader in mobile",
        {"location": "test", "submit": HELLO},
        "/channel_header",
        "something-else",
        {"app_id": "appid", "location": "test", "submit": HELLO},
        "",
    ),
    (
        "ERROR: no submit/form/bindings",
        {"location": "test"},
        "/channel_header",
        "",
        None,
        (
            "1 error occurred:\n\t* "
            '/channel_header/test: (only) one of  "submit", "form", or "bindings" must be set in a binding\n\n'
        ),
    ),
    (
        "ERROR: submit and form",
        {"location": "test", "submit": HELLO, "form": {"submit": HELLO}},
        "/channel_header",
        "",
        None,
        (
            "1 error occurred:\n\t* "
            '/channel_header/test: (only) one of  "submit", "form", or "bindings" must be set in a binding\n\n'
        ),
    ),
    (
        "ERROR: submit and bindings",
        {"location": "test", "submit": HELLO, "bindings": [{"location": "test1"}, {"location": "test2"}]},
        "/channel_header",
        "",
        None,
        (
            "1 error occurred:\n\t* "
            '/channel_header/test: (only) one of  "submit", "form", or "bindings" must be set in a binding\n\n'
        ),
    ),
    (
        "clean sub-bindings",
        {"location": "test", "bindings": [{"location": "test1", "submit": HELLO}, {"location": "test2", "submit": HELLO}]},
        "/channel_header",
        "",
        {
            "app_id": "appid",
            "location": "test",
            "bindings": [
                {"app_id": "appid", "location": "test1", "submit": HELLO},
                {"app_id": "appid", "location": "test2", "submit": HELLO},
            ],
        },
        "",
    ),
    (
        "clean form",
        {"location": "test", "form": {"submit": HELLO, "fields": [{"name": "in valid"}]}},
        "/channel_header",
        "",
        {"app_id": "appid", "location": "test", "form": {"submit": HELLO}},
        '1 error occurred:\n\t* field name must be a single word: "in valid"\n\n',
    ),
]


@pytest.mark.parametrize(
    ("name", "binding", "prefix", "user_agent", "expected", "problems"), CLEAN_APP_BINDING, ids=[c[0] for c in CLEAN_APP_BINDING]
)
def test_clean_app_binding(
    name: str, binding: dict[str, Any], prefix: str, user_agent: str, expected: dict[str, Any] | None, problems: str
) -> None:
    found: list[str] = []
    scope = Scope("appid", ("/command", "/channel_header"), "", user_agent)
    clean = clean_app_binding(decode_binding(binding), prefix, scope, found)
    assert (encode_binding(clean) if clean is not None else None) == expected
    assert (golang.multierror(found) if found else "") == problems


def _test_binding(app_id: str, parent: str, n: str) -> list[dict[str, Any]]:
    return [{"app_id": app_id, "location": parent, "bindings": [{"app_id": app_id, "location": f"id-{n}", "hint": f"hint-{n}"}]}]


def _form_binding(app_id: str, label: str, description: str, path: str) -> dict[str, Any]:
    return {"app_id": app_id, "label": label, "description": description, "form": {"submit": {"path": path}}}


_ZENDESK = _form_binding("zendesk", "Create zendesk ticket", "Create ticket in zendesk", "http://localhost:4000/create")
_HELLO_TICKET = _form_binding("hello", "Create hello ticket", "Create ticket in hello", "http://localhost:4000/hello")

# server/proxy/bindings_test.go, TestMergeBindings (compared ignoring order, as its equalBindings does)
MERGE = [
    ("happy simplest", [{"location": "1"}], [{"location": "2"}], [{"location": "1"}, {"location": "2"}]),
    ("happy simple 1", _test_binding("app1", "/command", "simple"), [], _test_binding("app1", "/command", "simple")),
    ("happy simple 2", [], _test_binding("app1", "/command", "simple"), _test_binding("app1", "/command", "simple")),
    (
        "happy simple same",
        _test_binding("app1", "/command", "simple"),
        _test_binding("app1", "/command", "simple"),
        _test_binding("app1", "/command", "simple"),
    ),
    (
        "happy simple merge",
        _test_binding("app1", "/post_menu", "simple"),
        _test_binding("app1", "/command", "simple"),
        _test_binding("app1", "/post_menu", "simple") + _test_binding("app1", "/command", "simple"),
    ),
    (
        "happy simple 2 apps",
        _test_binding("app1", "/command", "simple"),
        _test_binding("app2", "/command", "simple"),
        _test_binding("app1", "/command", "simple") + _test_binding("app2", "/command", "simple"),
    ),
    (
        "happy 2 simple commands",
        _test_binding("app1", "/command", "simple1"),
        _test_binding("app1", "/command", "simple2"),
        [
            {
                "app_id": "app1",
                "location": "/command",
                "bindings": [
                    {"app_id": "app1", "location": "id-simple1", "hint": "hint-simple1"},
                    {"app_id": "app1", "location": "id-simple2", "hint": "hint-simple2"},
                ],
            }
        ],
    ),
    (
        "happy 2 apps",
        [{"location": "/post_menu", "bindings": [_ZENDESK]}],
        [{"location": "/post_menu", "bindings": [_HELLO_TICKET]}],
        [{"location": "/post_menu", "bindings": [_ZENDESK, _HELLO_TICKET]}],
    ),
]


def _sorted(bindings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(bindings, key=lambda b: (b.get("app_id", ""), repr(b)))


@pytest.mark.parametrize(("name", "first", "second", "expected"), MERGE, ids=[m[0] for m in MERGE])
def test_merge_bindings(
    name: str, first: list[dict[str, Any]], second: list[dict[str, Any]], expected: list[dict[str, Any]]
) -> None:
    assert _sorted(merge_bindings(first, second)) == _sorted(expected)


_URL = {"path": "/url"}


def _field(name: str = "", label: str = "", kind: str = "", **more: Any) -> dict[str, Any]:
    """A Go `apps.Field` as Go encodes it: `name` and `type` always, the rest only when set."""
    return {"name": name, "type": kind, **({"label": label} if label else {}), **more}


# server/proxy/form_test.go, TestCleanForm: (name, fields in, fields out, expected problems)
CLEAN_FORM = [
    (
        "no field filter on names",
        [{"name": "field1"}, {"name": "field2"}],
        [_field("field1", "field1"), _field("field2", "field2")],
        "",
    ),
    (
        "no field filter on labels",
        [{"label": "field1", "name": "same"}, {"label": "field2", "name": "same"}],
        [_field("same", "field1"), _field("same", "field2")],
        "",
    ),
    (
        "field filter with no name",
        [{"label": "field1"}, {"label": "field2", "name": "same"}],
        [_field("same", "field2")],
        "1 error occurred:\n\t* field with no name, label field1\n\n",
    ),
    (
        "field filter with same label inferred from name",
        [{"type": "bool", "name": "same"}, {"type": "channel", "name": "same"}],
        [_field("same", "same", "bool")],
        '1 error occurred:\n\t* repeated label: "same" (field: same)\n\n',
    ),
    (
        "field filter with same label",
        [{"type": "bool", "label": "same", "name": "field1"}, {"type": "channel", "label": "same", "name": "field2"}],
        [_field("field1", "same", "bool")],
        '1 error occurred:\n\t* repeated label: "same" (field: field2)\n\n',
    ),
    (
        "field filter with multiword name",
        [{"type": "bool", "label": "multiple word", "name": "multiple word"}],
        [],
        '1 error occurred:\n\t* field name must be a single word: "multiple word"\n\n',
    ),
    (
        "field filter with multiword label",
        [{"type": "bool", "label": "multiple word", "name": "singleword"}],
        [],
        '1 error occurred:\n\t* label must be a single word: "multiple word" (field: singleword)\n\n',
    ),
    (
        "field filter more than one field",
        [
            {"type": "bool", "label": "same", "name": "field1"},
            {"type": "channel", "label": "same", "name": "field2"},
            {"type": "text", "label": "same", "name": "field3"},
        ],
        [_field("field1", "same", "bool")],
        '2 errors occurred:\n\t* repeated label: "same" (field: field2)\n\t* repeated label: "same" (field: field3)\n\n',
    ),
    (
        "field filter static with no options",
        [{"type": "static_select", "name": "field1"}],
        [],
        "1 error occurred:\n\t* no options for static select: field1\n\n",
    ),
    (
        "field filter static options with no label",
        [{"type": "static_select", "name": "field_1", "options": [{"value": "opt1"}, {}]}],
        [_field("field_1", "field-1", "static_select", options=[{"value": "opt1"}])],
        "1 error occurred:\n\t* option with neither label nor value (field field_1)\n\n",
    ),
    (
        "field filter static options with same label inferred from value",
        [
            {
                "type": "static_select",
                "name": "field1",
                "options": [{"value": "same", "icon_data": "opt1"}, {"value": "same", "icon_data": "opt2"}],
            }
        ],
        [_field("field1", "field1", "static_select", options=[{"value": "same", "icon_data": "opt1"}])],
        '1 error occurred:\n\t* repeated label "same" on select option (field field1)\n\n',
    ),
    (
        "field filter static options with same label",
        [
            {
                "type": "static_select",
                "name": "field1",
                "options": [{"label": "same", "value": "opt1"}, {"label": "same", "value": "opt2"}],
            }
        ],
        [_field("field1", "field1", "static_select", options=[{"label": "same", "value": "opt1"}])],
        '1 error occurred:\n\t* repeated label "same" on select option (field field1)\n\n',
    ),
    (
        "field filter static options with same value",
        [
            {
                "type": "static_select",
                "name": "field1",
                "options": [{"label": "opt1", "value": "same"}, {"label": "opt2", "value": "same"}],
            }
        ],
        [_field("field1", "field1", "static_select", options=[{"label": "opt1", "value": "same"}])],
        '1 error occurred:\n\t* repeated value "same" on select option (field field1)\n\n',
    ),
    (
        "invalid static options don't consume namespace",
        [
            {
                "type": "static_select",
                "name": "field1",
                "options": [
                    {"label": "same1", "value": "same1"},
                    {"label": "same1", "value": "same2"},
                    {"label": "same2", "value": "same1"},
                    {"label": "same2", "value": "same2"},
                ],
            }
        ],
        [
            _field(
                "field1",
                "field1",
                "static_select",
                options=[{"label": "same1", "value": "same1"}, {"label": "same2", "value": "same2"}],
            )
        ],
        (
            "2 errors occurred:\n\t* "
            'repeated label "same1" on select option (field field1)\n\t* '
            'repeated value "same1" on select option (field field1)\n\n'
        ),
    ),
    (
        "field filter static with no valid options",
        [{"type": "static_select", "name": "field1", "options": [{}]}],
        [],
        (
            "2 errors occurred:\n\t* "
            "option with neither label nor value (field field1)\n\t* "
            "no options for static select: field1\n\n"
        ),
    ),
    (
        "invalid static field does not consume namespace",
        [{"type": "static_select", "name": "field1", "options": [{}]}, {"name": "field1"}],
        [_field("field1", "field1")],
        (
            "2 errors occurred:\n\t* "
            "option with neither label nor value (field field1)\n\t* "
            "no options for static select: field1\n\n"
        ),
    ),
]


@pytest.mark.parametrize(("name", "fields", "expected_fields", "problems"), CLEAN_FORM, ids=[c[0] for c in CLEAN_FORM])
def test_clean_form(name: str, fields: list[dict[str, Any]], expected_fields: list[dict[str, Any]], problems: str) -> None:
    found: list[str] = []
    cleaned = clean_form({"title": "Test", "submit": _URL, "fields": fields}, "", "", found)
    expected = {"title": "Test", "submit": _URL, **({"fields": expected_fields} if expected_fields else {})}
    assert cleaned == expected
    assert (golang.multierror(found) if found else "") == problems


# Read from server/proxy/form.go and the Go structs: no type or subtype check, unknown keys and zero values go.
@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ({"name": "a", "type": "made-up"}, _field("a", "a", "made-up")),
        ({"name": "a", "type": "text", "subtype": "made-up"}, _field("a", "a", "text", subtype="made-up")),
        ({"name": "a", "type": ""}, _field("a", "a")),
        ({"name": "a", "extra": 1, "is_required": False, "value": ""}, _field("a", "a", value="")),
        ({"name": "a", "type": "dynamic_select"}, None),
    ],
)
def test_a_field_goes_through_the_go_struct(field: dict[str, Any], expected: dict[str, Any] | None) -> None:
    cleaned = clean_form({"submit": _URL, "fields": [field]}, "", "")
    assert cleaned.get("fields") == ([expected] if expected else None)


def test_a_form_without_submit_or_source_is_kept_with_a_problem() -> None:
    found: list[str] = []
    assert clean_form({"title": "T", "fields": [{"name": "x"}]}, "", "", found) == {"title": "T", "fields": [_field("x", "x")]}
    assert found == ["form must define either a submit or a source"]


# test/restapitest/bindings.go, "bindings are accepted only for requested locations"
_LOC_TEST = {"location": "loc-test", "label": "lab-test", "submit": {"path": "/does-not-matter"}}


def _expected(location: str) -> dict[str, Any]:
    return {"location": location, "bindings": [{"app_id": "location_bindings", **_LOC_TEST}]}


REQUESTED_LOCATIONS = [
    ("all locations", ("/command", "/channel_header", "/post_menu"), ["/channel_header", "/command", "/post_menu"], ""),
    (
        "command only",
        ("/command",),
        ["/command"],
        (
            "2 errors occurred:\n\t* "
            "/channel_header: location is not granted: forbidden\n\t* "
            "/post_menu: location is not granted: forbidden\n\n"
        ),
    ),
    (
        "channel header only",
        ("/channel_header",),
        ["/channel_header"],
        (
            "2 errors occurred:\n\t* "
            "/command: location is not granted: forbidden\n\t* "
            "/post_menu: location is not granted: forbidden\n\n"
        ),
    ),
    (
        "post menu only",
        ("/post_menu",),
        ["/post_menu"],
        (
            "2 errors occurred:\n\t* "
            "/command: location is not granted: forbidden\n\t* "
            "/channel_header: location is not granted: forbidden\n\n"
        ),
    ),
    (
        "command and post menu",
        ("/command", "/post_menu"),
        ["/command", "/post_menu"],
        "1 error occurred:\n\t* /channel_header: location is not granted: forbidden\n\n",
    ),
]


@pytest.mark.parametrize(
    ("name", "granted", "locations", "problems"), REQUESTED_LOCATIONS, ids=[r[0] for r in REQUESTED_LOCATIONS]
)
def test_bindings_are_accepted_only_for_requested_locations(
    name: str, granted: tuple[str, ...], locations: list[str], problems: str
) -> None:
    data = [{"location": top, "bindings": [_LOC_TEST]} for top in ("/command", "/channel_header", "/post_menu")]
    bindings, found = clean_bindings(
        data, app_id="location_bindings", granted_locations=granted, plugin_url="", user_agent="test-agent"
    )
    assert bindings == [_expected(top) for top in locations]  # top level sorted by location
    assert (golang.multierror(found) if found else "") == problems


# Read from server/proxy/invoke_bindings.go: what v1.2.2 does that a stricter reading would not.
def test_a_grant_below_the_top_level_makes_the_top_level_binding_forbidden() -> None:
    data = [{"location": "/command", "bindings": [{"label": "weather", "submit": {"path": "/x"}}]}]
    bindings, found = clean_bindings(data, app_id="a", granted_locations=("/command/weather",), plugin_url="")
    assert (bindings, found) == ([], ["/command: location is not granted: forbidden"])


def test_duplicates_are_kept_and_labels_trimmed() -> None:
    subs = [
        {"label": "same", "submit": {"path": "/one"}},
        {"label": "same", "submit": {"path": "/two"}},
        {"location": " spaced ", "label": " spaced ", "submit": {"path": "/three"}},
    ]
    bindings, found = clean_bindings(
        [{"location": "/command", "bindings": subs}], app_id="a", granted_locations=("/command",), plugin_url=""
    )
    assert [(b["location"], b["label"], b["submit"]["path"]) for b in bindings[0]["bindings"]] == [
        ("same", "same", "/one"),
        ("same", "same", "/two"),
        ("spaced", "spaced", "/three"),
    ]
    assert found == ["/command/spaced: trimmed whitespace from location", "/command/spaced: trimmed whitespace from label spaced"]


def test_submit_paths_are_never_checked_and_a_form_with_bad_fields_is_kept() -> None:
    subs = [
        {"label": "odd", "submit": {"path": "no-slash"}},
        {"label": "formy", "form": {"submit": "/f", "fields": [{"name": "two words"}]}},
        {"label": "empty", "submit": {}},
    ]
    bindings, _found = clean_bindings(
        [{"location": "/command", "bindings": subs}], app_id="a", granted_locations=("/command",), plugin_url=""
    )
    assert bindings[0]["bindings"] == [
        {"app_id": "a", "location": "odd", "label": "odd", "submit": {"path": "no-slash"}},
        {"app_id": "a", "location": "formy", "label": "formy", "form": {"submit": {"path": "/f"}}},
        {"app_id": "a", "location": "empty", "label": "empty", "submit": {}},
    ]


def test_a_channel_header_binding_needs_an_icon_for_the_webapp_only() -> None:
    data = [{"location": "/channel_header", "bindings": [{"location": "b", "label": "B", "submit": {"path": "/x"}}]}]
    for user_agent, kept in (("webapp", 0), ("mobile", 1), ("", 1)):
        bindings, _found = clean_bindings(
            data, app_id="a", granted_locations=("/channel_header",), plugin_url="", user_agent=user_agent
        )
        assert len(bindings) == kept, user_agent


@pytest.mark.parametrize(
    ("icon", "expected"),
    [
        # test/restapitest/bindings.go, "multiple apps have commands" (its expected icons)
        ("base command icon", "http://mm.test/plugins/com.mattermost.apps/apps/bind1/static/base%20command%20icon"),
        ("valid/path", "http://mm.test/plugins/com.mattermost.apps/apps/bind1/static/valid/path"),
        ("https://example.com/image.png", "https://example.com/image.png"),
        ("/icon.png", "http://mm.test/plugins/com.mattermost.apps/apps/bind1/static/icon.png"),
    ],
)
def test_icons_point_at_the_static_route(icon: str, expected: str) -> None:
    data = [{"location": "/command", "bindings": [{"label": "x", "icon": icon, "submit": {"path": "/x"}}]}]
    bindings, _ = clean_bindings(
        data, app_id="bind1", granted_locations=("/command",), plugin_url="http://mm.test/plugins/com.mattermost.apps"
    )
    assert bindings[0]["bindings"][0]["icon"] == expected
