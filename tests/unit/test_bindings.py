"""Bindings: the `/google` tree per (admin?, configured?, connected?), through POST /bindings
with the manifest's own expand, and the rules the plugin cleans bindings by (protocol §11)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

import call_paths as paths
from app_keys import derive_fernet_key
from bindings import Viewer, command_bindings
from mattermost_apps.testing import EXPAND_LEVELS
from tests.conftest import ADMIN, ALICE
from user_tokens import TokenCipher

from .conftest import make_record

FORBIDDEN_FOR_USER_AGENT = {"/oauth2/connect", "/oauth2/complete", "/ping", "/webhook"}


@pytest.fixture
def bindings_expand(client):
    """The expand the plugin sends with the bindings call is the one the served manifest declares."""
    return client.get("/manifest.json").get_json()["bindings"]["expand"]


def fetch_bindings(plugin, bindings_expand, user):
    result = plugin.call(paths.BINDINGS, bindings_expand, user=user)
    assert result["type"] == "ok", result
    return result["data"]


def sub_command_labels(data):
    (top,) = data
    assert top["location"] == "/command"
    (google,) = top["bindings"]
    assert google["label"] == "google"
    return [b["label"] for b in google["bindings"]]


def walk(bindings_list):
    for binding in bindings_list:
        yield binding
        yield from walk(binding.get("bindings") or [])


@pytest.mark.parametrize(
    ("is_admin", "configured", "connected", "expected"),
    [
        (True, True, True, ["configure", "info", "events", "disconnect", "help"]),
        (True, True, False, ["configure", "connect", "help"]),
        (True, False, False, ["configure", "connect", "help"]),
        (False, True, True, ["info", "events", "disconnect", "help"]),
        (False, True, False, ["connect", "help"]),
        (False, False, False, ["connect", "help"]),
    ],
)
def test_command_tree_for_each_kind_of_viewer(
    plugin, bindings_expand, connect_user, requests_mock, is_admin, configured, connected, expected
):
    user = ADMIN if is_admin else ALICE
    if configured:
        plugin.configure()
    if connected:
        connect_user(user)
    assert sub_command_labels(fetch_bindings(plugin, bindings_expand, user)) == expected
    assert requests_mock.request_history == []  # the record comes in the context: no round trip


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(None, id="null stored by disconnect"),
        pytest.param({}, id="empty object"),
        # mattermost-app-zendesk stored {token: {}, role: ""} on disconnect, which still expands to a record
        pytest.param({"token": {}, "role": ""}, id="zendesk disconnect record"),
        pytest.param({"access_token": "ya29.plain", "token_type": "Bearer"}, id="unencrypted hello-oauth2 token"),
        pytest.param({"v": 1, "fernet": "gAAAAAnot-a-real-token"}, id="garbage ciphertext"),
        pytest.param("a string", id="not an object"),
    ],
)
def test_a_record_that_is_not_a_usable_token_shows_connect(plugin, bindings_expand, stored):
    plugin.configure()
    plugin.store_user_record(ALICE, stored)
    assert sub_command_labels(fetch_bindings(plugin, bindings_expand, ALICE)) == ["connect", "help"]


def test_a_record_sealed_with_another_key_shows_connect(plugin, bindings_expand):
    plugin.configure()
    other = TokenCipher((derive_fernet_key("another-app-secret-with-enough-bytes-0000"),))
    plugin.store_user_record(ALICE, other.seal(make_record()))
    assert sub_command_labels(fetch_bindings(plugin, bindings_expand, ALICE)) == ["connect", "help"]


def test_an_expired_record_still_counts_as_connected(plugin, bindings_expand, connect_user):
    # Refresh happens when the token is used, not when bindings are drawn.
    plugin.configure()
    connect_user(ALICE, expires_in=-3600)
    assert "disconnect" in sub_command_labels(fetch_bindings(plugin, bindings_expand, ALICE))


def test_role_that_only_contains_admin_as_a_substring_is_not_admin(plugin, bindings_expand):
    impostor = replace(ALICE, roles="system_user team_admin not_system_admin")
    assert "configure" not in sub_command_labels(fetch_bindings(plugin, bindings_expand, impostor))


ALL_VIEWERS = [Viewer(*flags) for flags in itertools.product((True, False), repeat=3)]


@pytest.mark.parametrize("viewer", ALL_VIEWERS, ids=str)
def test_submit_paths_never_collide_with_paths_the_plugin_forbids(viewer):
    # The plugin refuses these from the user agent with "forbidden call path" (protocol §1.4);
    # hello-oauth2's own /connect command sat one typo away from it.
    for binding in walk(command_bindings(viewer)):
        if "submit" in binding:
            path = binding["submit"]["path"]
            assert path.startswith("/")
            assert path not in FORBIDDEN_FOR_USER_AGENT
            assert path not in paths.RESERVED


@pytest.mark.parametrize("viewer", ALL_VIEWERS, ids=str)
def test_submit_paths_are_calls_the_app_serves(viewer, client):
    served = {rule.rule for rule in client.application.url_map.iter_rules() if "POST" in rule.methods}
    for binding in walk(command_bindings(viewer)):
        if "submit" in binding:
            assert binding["submit"]["path"] in served


@pytest.mark.parametrize("viewer", ALL_VIEWERS, ids=str)
def test_every_expand_level_is_one_the_plugin_accepts(viewer):
    # "none" is in the docs but fails the whole call (protocol §2.5).
    for binding in walk(command_bindings(viewer)):
        for key, level in binding.get("submit", {}).get("expand", {}).items():
            assert isinstance(level, str) and level.removeprefix("+") in EXPAND_LEVELS, (binding["label"], key, level)


@pytest.mark.parametrize("viewer", ALL_VIEWERS, ids=str)
def test_every_binding_has_exactly_one_of_submit_form_bindings(viewer):
    for binding in walk(command_bindings(viewer)):
        assert sum(key in binding for key in ("submit", "form", "bindings")) == 1, binding


@pytest.mark.parametrize("viewer", ALL_VIEWERS, ids=str)
def test_command_labels_are_one_word_and_unique(viewer):
    (top,) = command_bindings(viewer)
    for binding in walk(top["bindings"]):
        label = binding["label"]
        assert label and len(label.split()) == 1 and label == label.strip(), label
    (google,) = top["bindings"]
    labels = [b["label"] for b in google["bindings"]]
    assert len(labels) == len(set(labels))
    assert google["hint"] == "[" + " | ".join(labels) + "]"


@pytest.mark.parametrize("viewer", ALL_VIEWERS, ids=str)
def test_commands_that_use_the_token_ask_for_it_and_for_the_client(viewer):
    needs_token = {"info", "events", "disconnect"}
    for binding in walk(command_bindings(viewer)):
        if binding.get("label") in needs_token:
            expand = binding["submit"]["expand"]
            assert expand["oauth2_user"] == "all" and expand["oauth2_app"] == "all"
            assert expand["acting_user_access_token"] == "all"  # to store a refreshed or cleared record
        if binding.get("label") == "connect":
            assert binding["submit"]["expand"]["oauth2_app"] == "all"  # for connect_url


def test_the_icon_named_by_the_bindings_is_served(client):
    (top,) = command_bindings(Viewer(False, False, False))
    icon = top["bindings"][0]["icon"]
    assert client.get(f"/static/{icon}").status_code == 200


def test_bindings_without_acting_user_show_no_admin_command(plugin, requests_mock):
    # With no acting user expanded the app cannot know the roles, so it must not offer configure.
    result = plugin.call(paths.BINDINGS, {"oauth2_app": "all", "oauth2_user": "all"}, user=ADMIN)
    assert sub_command_labels(result["data"]) == ["connect", "help"]
