"""Bindings: the command tree per (admin?, configured?, connected?), through the bindings call with the manifest's own
expand, and the rules the plugin cleans bindings by (`server/proxy/invoke_bindings.go` at v1.2.2). The expected
trees are derived from the command table, so a new command is checked here without editing this file."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import pytest

from bindings import REST_FIELD, Viewer, command_bindings, connected, visible
from commands import COMMANDS
from mattermost_apps import forbidden_call_paths
from mattermost_apps.testing import EXPAND_LEVELS
from services import MANIFEST_TEMPLATE
from tests.binding_calls import UnknownShape, calls_of, fields_of, leaves, lookup_calls, submit_call
from tests.conftest import ADMIN, ALICE, CLIENT_ID, CLIENT_SECRET, derived_keys, paths
from user_tokens import TokenCipher

from .conftest import make_record

FORBIDDEN_FOR_USER_AGENT = {"/oauth2/connect", "/oauth2/complete", "/ping", "/webhook", "/install"}


@pytest.fixture
def bindings_expand(client):
    """The expand the plugin sends with the bindings call is the one the served manifest declares."""
    return client.get("/manifest.json").get_json()["bindings"]["expand"]


def fetch_bindings(plugin, bindings_expand, user):
    result = plugin.call(paths.BINDINGS, bindings_expand, user=user)
    assert result["type"] == "ok", result
    return result["data"]


def sub_command_labels(data):
    """The sub-commands usable now, as the hint lists them. Every sub-command is bound whatever the state (one that
    is not never reaches the app), and one not usable yet says what to do first."""
    (top,) = data
    assert top["location"] == "/command"
    (command,) = top["bindings"]
    assert command["label"] == paths.COMMAND
    assert [b["label"] for b in command["bindings"]] == [c.label for c in COMMANDS]
    usable = command["hint"].strip("[]").split(" | ")
    descriptions = {c.label: c.description for c in COMMANDS}
    for binding in command["bindings"]:
        said_first = binding["description"] != descriptions[binding["label"]]
        assert said_first == (binding["label"] not in usable), binding
        assert binding["description"].endswith(descriptions[binding["label"]])
    return usable


def walk(bindings_list):
    for binding in bindings_list:
        yield binding
        yield from walk(binding.get("bindings") or [])


def labels_for(viewer: Viewer) -> list[str]:
    return [command.label for command in visible(COMMANDS, viewer)]


@pytest.mark.parametrize(
    ("is_admin", "configured", "is_connected"),
    list(itertools.product((True, False), repeat=3)),
    ids=str,
)
def test_command_tree_for_each_kind_of_viewer(
    plugin, bindings_expand, connect_user, requests_mock, is_admin, configured, is_connected
):
    user = ADMIN if is_admin else ALICE
    if configured:
        plugin.configure(CLIENT_ID, CLIENT_SECRET)
    if is_connected:
        connect_user(user)
    expected = labels_for(Viewer(is_admin=is_admin, is_connected=is_connected))
    assert sub_command_labels(fetch_bindings(plugin, bindings_expand, user)) == expected
    assert requests_mock.request_history == []  # the record comes in the context: no round trip


def test_who_sees_what():
    # The table's promises, in words: configure for admins only, the token commands once connected, help always.
    assert "configure" in labels_for(Viewer(is_admin=True, is_connected=False))
    assert "configure" not in labels_for(Viewer(is_admin=False, is_connected=True))
    assert {"info", "events", "disconnect"} <= set(labels_for(Viewer(is_admin=False, is_connected=True)))
    assert not {"info", "events", "disconnect"} & set(labels_for(Viewer(is_admin=True, is_connected=False)))
    assert all("help" in labels_for(Viewer(a, c)) for a, c in itertools.product((True, False), repeat=2))


NOT_CONNECTED = labels_for(Viewer(is_admin=False, is_connected=False))


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(None, id="null stored by disconnect"),
        pytest.param({}, id="empty object"),
        # mattermost-app-zendesk stored {token: {}, role: ""} on disconnect, which still expands to a record
        pytest.param({"token": {}, "role": ""}, id="zendesk disconnect record"),
        pytest.param({"access_token": "ya29.plain", "token_type": "Bearer"}, id="unencrypted hello-oauth2 token"),
        pytest.param("a string", id="not an object"),
    ],
)
def test_a_record_that_is_not_a_usable_token_shows_connect(plugin, bindings_expand, stored):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    plugin.store_user_record(ALICE, stored)
    assert sub_command_labels(fetch_bindings(plugin, bindings_expand, ALICE)) == NOT_CONNECTED


@pytest.mark.parametrize("key", ["another-app-secret-with-enough-bytes-0000", None], ids=["another key", "garbage"])
def test_a_record_of_this_apps_shape_shows_the_connected_commands_without_decrypting(plugin, bindings_expand, key, monkeypatch):
    # Drawing the commands reads the record's shape, not its content: the command that uses it says if it is unreadable.
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    stored = (
        TokenCipher((derived_keys(key).token_keys[0],)).seal(make_record(), user_id=ALICE.id) if key else {"v": 1, "fernet": "x"}
    )
    plugin.store_user_record(ALICE, stored)
    monkeypatch.setattr(TokenCipher, "open", lambda *a, **k: pytest.fail("the bindings decrypted the record"))
    assert sub_command_labels(fetch_bindings(plugin, bindings_expand, ALICE)) == labels_for(
        Viewer(is_admin=False, is_connected=True)
    )


def test_an_expired_record_still_counts_as_connected(plugin, bindings_expand, connect_user):
    # Refresh happens when the token is used, not when bindings are drawn.
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    connect_user(ALICE, expires_in=-3600)
    assert "disconnect" in sub_command_labels(fetch_bindings(plugin, bindings_expand, ALICE))


def test_role_that_only_contains_admin_as_a_substring_is_not_admin(plugin, bindings_expand):
    impostor = replace(ALICE, roles="system_user team_admin not_system_admin")
    assert "configure" not in sub_command_labels(fetch_bindings(plugin, bindings_expand, impostor))


ALL_VIEWERS = [Viewer(*flags) for flags in itertools.product((True, False), repeat=2)]


def tree(viewer: Viewer) -> list[dict]:
    return command_bindings(COMMANDS, viewer, trigger=paths.COMMAND, description="d", icon="icon.png")


def every_call(viewer: Viewer) -> list[dict]:
    """Each call a command binding makes (its submit, its lookups), read strictly: an unknown shape fails."""
    calls = [call for leaf in leaves(tree(viewer)) for call in calls_of(leaf)]
    assert len(calls) >= len(COMMANDS)
    return calls


@pytest.mark.parametrize("viewer", ALL_VIEWERS, ids=str)
def test_call_paths_never_collide_with_paths_the_plugin_forbids(viewer):
    # The plugin refuses these from the user agent with "forbidden call path" (`server/proxy/invoke_call.go`);
    # hello-oauth2's own /connect command sat one typo away from it. A lookup comes from the user agent too.
    forbidden = forbidden_call_paths(json.loads(MANIFEST_TEMPLATE.read_text(encoding="utf-8")))
    assert forbidden == FORBIDDEN_FOR_USER_AGENT
    for call in every_call(viewer):
        assert call["path"].startswith("/")
        assert call["path"] not in forbidden


@pytest.mark.parametrize("viewer", ALL_VIEWERS, ids=str)
def test_call_paths_are_calls_the_app_serves(viewer, client):
    served = {rule.rule for rule in client.application.url_map.iter_rules() if "POST" in rule.methods}
    for call in every_call(viewer):
        assert call["path"] in served


def test_each_call_has_a_path_of_its_own():
    # The plugin sends no call type: a lookup is told from a submit by its path alone.
    calls = every_call(Viewer(is_admin=True, is_connected=True))
    assert len({call["path"] for call in calls}) == len(calls)


@pytest.mark.parametrize("viewer", ALL_VIEWERS, ids=str)
def test_every_expand_level_is_one_the_plugin_accepts(viewer):
    # "none" is in the docs but fails the whole call (`apps/expand.go`).
    for call in every_call(viewer):
        for key, level in call.get("expand", {}).items():
            assert isinstance(level, str) and level.removeprefix("+") in EXPAND_LEVELS, (call["path"], key, level)


@pytest.mark.parametrize(
    "binding",
    [
        pytest.param({"label": "x", "form": {"source": {"path": "/x/form"}}}, id="source-only form"),
        pytest.param({"label": "x", "form": {"submit": {"path": "/x"}, "source": {"path": "/x/form"}}}, id="form with a source"),
        pytest.param(
            {"label": "x", "form": {"submit": {"path": "/x"}, "fields": [{"name": "a", "refresh": True}]}}, id="refresh"
        ),
        pytest.param(
            {"label": "x", "form": {"submit": {"path": "/x"}, "fields": [{"name": "a", "type": "dynamic_select"}]}},
            id="no lookup",
        ),
        pytest.param({"label": "x", "form": {"submit": {"path": "/x"}}, "submit": {"path": "/x"}}, id="submit and form"),
        pytest.param({"label": "x"}, id="no call"),
        pytest.param({"label": "x", "submit": "/x"}, id="call as a string"),
        pytest.param({"label": "x", "submit": {"path": "/x"}, "call": {"path": "/y"}}, id="unknown key"),
    ],
)
def test_a_binding_shape_the_suite_does_not_know_fails_the_every_command_tests(binding):
    with pytest.raises(UnknownShape):
        calls_of(binding)


def test_the_every_command_tests_read_a_submit_and_a_forms_submit_and_lookups():
    assert submit_call({"label": "x", "submit": {"path": "/x"}}) == {"path": "/x"}
    field = {"name": "a", "type": "dynamic_select", "lookup": {"path": "/x/a", "expand": {"locale": "all"}}}
    binding = {"label": "x", "form": {"submit": {"path": "/x"}, "fields": [field, {"name": "b", "type": "text"}]}}
    assert lookup_calls(binding) == {"a": field["lookup"]}
    assert calls_of(binding) == [{"path": "/x"}, field["lookup"]]


@pytest.mark.parametrize("viewer", ALL_VIEWERS, ids=str)
def test_each_command_binding_carries_its_fields_then_the_rest_of_the_line(viewer):
    (top,) = tree(viewer)
    (command,) = top["bindings"]
    assert any(entry.fields for entry in COMMANDS)
    for binding, entry in zip(command["bindings"], COMMANDS, strict=True):
        fields = fields_of(binding)
        assert fields[: len(entry.fields)] == [f.to_json() for f in entry.fields], entry.label
        assert [f["name"] for f in fields[len(entry.fields) :]] == [REST_FIELD], entry.label
        assert submit_call(binding) == {"path": entry.path, "expand": entry.expand}


@pytest.mark.parametrize("viewer", ALL_VIEWERS, ids=str)
def test_every_binding_has_exactly_one_of_submit_form_bindings(viewer):
    for binding in walk(tree(viewer)):
        assert sum(key in binding for key in ("submit", "form", "bindings")) == 1, binding


@pytest.mark.parametrize("viewer", ALL_VIEWERS, ids=str)
def test_command_labels_are_one_word_and_unique(viewer):
    (top,) = tree(viewer)
    for binding in walk(top["bindings"]):
        label = binding["label"]
        assert label and len(label.split()) == 1 and label == label.strip(), label
    (command,) = top["bindings"]
    labels = [b["label"] for b in command["bindings"]]
    assert len(labels) == len(set(labels))
    assert command["hint"] == "[" + " | ".join(labels_for(viewer)) + "]"


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.shown_to is connected], ids=lambda c: c.label)
def test_commands_for_connected_users_ask_for_the_token_and_the_client(command):
    # Shown only once connected: they use the token, so they need the record, the client to refresh it, and the
    # user's Mattermost token to store a refreshed or cleared record. So do their lookups, which use it as well.
    for call, _handler in command.calls():
        assert call.expand["oauth2_user"] == "all" and call.expand["oauth2_app"] == "all", call
        assert call.expand["acting_user_access_token"] == "all", call


def test_connect_asks_for_the_connect_url():
    (connect,) = [c for c in COMMANDS if c.label == "connect"]
    assert connect.expand["oauth2_app"] == "all"


def test_the_icon_named_by_the_bindings_is_served(client, plugin, bindings_expand):
    (top,) = fetch_bindings(plugin, bindings_expand, ALICE)
    icon = top["bindings"][0]["icon"]
    assert client.get(f"/static/{icon}").status_code == 200


def test_bindings_without_acting_user_show_no_admin_command(plugin, requests_mock):
    # With no acting user expanded the app cannot know the roles, so it must not offer configure.
    result = plugin.call(paths.BINDINGS, {"oauth2_app": "all", "oauth2_user": "all"}, user=ADMIN)
    assert sub_command_labels(result["data"]) == NOT_CONNECTED
