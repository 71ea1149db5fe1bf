"""The app's JSON through Mattermost's real web-client code, and the emulator's port of that code beside it.

node runs mattermost-redux 11.9.0's `utils/apps` (`validateBindings`, `cleanBinding`, `cleanForm`) and
`constants/apps` (`mattermost_apps.testing.web_client`, the package pinned in tests/node). The app's binding sets
come from the app itself, for every (admin, configured, connected) viewer, through its own `/bindings` route; then
every binding's call is made and its answer checked against what the client handles (the webapp's `doAppSubmit`,
`actions/apps.ts`).
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from app import create_app
from mattermost_apps.testing import FakePlugin, InstalledApp, User
from mattermost_apps.testing import web_client as web_client_code
from mattermost_apps.testing.emulator import webclient
from mattermost_apps.testing.emulator.cleanup import clean_bindings, clean_form_struct, encode_form, normalize_static_path
from mattermost_apps.testing.emulator.commands import compose_submit_call
from mattermost_apps.testing.emulator.plugin import Plugin, decode_call_response
from mattermost_apps.testing.emulator.store import AppRecord
from provider import AppProvider, Identity
from tests.binding_calls import fields_of, lookup_calls, submit_call, typed
from tests.conftest import (
    ADMIN,
    ALICE,
    APPS_API,
    BOT,
    BOT_TOKEN,
    CALENDAR_API,
    CLIENT_ID,
    CLIENT_SECRET,
    REVOKE_URL,
    SITE_URL,
    USERINFO_URL,
    make_settings,
)
from tests.conftest import (
    fake_plugin as app_plugin,
)
from tests.names import APP_ID
from user_tokens import TokenCipher, TokenRecord

pytestmark = pytest.mark.e2e

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
NODE_MODULES = NODE_DIR / "node_modules"
PLUGIN_URL = SITE_URL + "/plugins/com.mattermost.apps"
VIEWERS = list(itertools.product((True, False), repeat=3))  # (admin, configured, connected)
VIEWER_IDS = [
    f"{'admin' if a else 'user'}-{'configured' if c else 'unconfigured'}-{'connected' if n else 'not-connected'}"
    for a, c, n in VIEWERS
]
Jobs = list[dict[str, Any]]


@pytest.fixture(scope="module")
def web_client() -> Callable[[Jobs], list[dict[str, Any]]]:
    """Run jobs through mattermost-redux in one node process."""
    if not (NODE_MODULES / "mattermost-redux").is_dir():
        pytest.fail("mattermost-redux is not installed: run `make test` (it runs `npm ci` in tests/node)")
    return lambda jobs: web_client_code.run(jobs, NODE_MODULES)


def test_the_pinned_web_client_is_installed() -> None:
    package = json.loads((NODE_DIR / "node_modules" / "mattermost-redux" / "package.json").read_text())
    assert package["version"] == "11.9.0"
    assert json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["mattermost-redux"] == "11.9.0"


# -- the app, as the plugin calls it --------------------------------------------------------------------------


def fake_plugin(configured: bool) -> FakePlugin:
    installed = InstalledApp(
        app_id=APP_ID,
        root_url="http://app.test:8080",
        secret=make_settings().app_secret,
        bot=BOT,
        bot_access_token=BOT_TOKEN,
        site_url=SITE_URL,
    )
    plugin = app_plugin(create_app(make_settings()).test_client(), installed)
    if configured:
        plugin.configure(CLIENT_ID, CLIENT_SECRET)
    return plugin


def connect(plugin: FakePlugin, user: User) -> None:
    scope = " ".join(AppProvider.scopes)  # every box ticked: each command runs
    record = TokenRecord("ya29.access", "1//refresh", time.time() + 3000, scope, "Bearer", Identity("1087", "a@gmail.test", "A"))
    plugin.store_user_record(user, TokenCipher(make_settings().token_keys).seal(record, user_id=user.id))


def manifest(client: FlaskClient) -> dict[str, Any]:
    return client.get("/manifest.json").get_json()


def app_bindings(plugin: FakePlugin, user: User) -> list[dict[str, Any]]:
    """The app's answer to the bindings call, with the expand its manifest declares."""
    call = manifest(plugin.client)["bindings"]
    answer = plugin.call(call["path"], call.get("expand"), user=user)
    assert answer["type"] == "ok", answer
    return answer["data"]


def through_the_plugin(plugin: FakePlugin, data: Any) -> list[dict[str, Any]]:
    """The bindings as the plugin v1.2.2 hands them to the client; it must have had nothing to complain about."""
    granted = tuple(manifest(plugin.client)["requested_locations"])
    bindings, problems = clean_bindings(
        data, app_id=APP_ID, granted_locations=granted, plugin_url=PLUGIN_URL, user_agent="webapp"
    )
    assert problems == []
    return bindings


def leaves(bindings: list[dict[str, Any]], words: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    found = []
    for binding in bindings:
        path = (*words, binding["label"]) if binding.get("label") else words
        if binding.get("bindings"):
            found += leaves(binding["bindings"], path)
        else:
            found.append((path, binding))
    return found


def viewer_plugin(admin: bool, configured: bool, connected: bool) -> tuple[FakePlugin, User]:
    plugin, user = fake_plugin(configured), ADMIN if admin else ALICE
    if connected:
        connect(plugin, user)
    return plugin, user


@pytest.mark.parametrize(("admin", "configured", "connected"), VIEWERS, ids=VIEWER_IDS)
def test_every_binding_set_passes_the_web_client_untouched(
    web_client: Callable[[Jobs], list[dict[str, Any]]], admin: bool, configured: bool, connected: bool
) -> None:
    plugin, user = viewer_plugin(admin, configured, connected)
    bindings = through_the_plugin(plugin, app_bindings(plugin, user))
    (result,) = web_client([{"fn": "validateBindings", "arg": bindings}])
    assert result["returned"] == web_client_code.prefixed(bindings)  # nothing dropped, nothing rewritten but the locations
    assert webclient.validate_bindings(copy.deepcopy(bindings)) == result["returned"]  # the emulator's port agrees
    # every command the app offers can be typed as it is, and goes to the binding's own call
    commands = webclient.command_bindings(result["returned"])
    record = AppRecord(manifest=manifest(plugin.client), secret="", bot=BOT, webhook_secret="")
    for words, leaf in leaves(commands):
        submit = submit_call(leaf)
        request, problem = compose_submit_call("/" + " ".join(words), commands, {user.id: user})
        assert problem == "" and request is not None, words
        assert request["path"] == submit["path"] and request["expand"] == submit.get("expand", {})
        for call in (submit, *lookup_calls(leaf).values()):
            assert Plugin(None, SITE_URL).forbidden_path(record, call["path"]) is None  # type: ignore[arg-type]
        # and each of its fields, typed after its flag, reaches the same call with the value the client sends
        for field in fields_of(leaf):
            text, sent = typed(field)
            request, problem = compose_submit_call(f"/{' '.join(words)} --{field['label']} {text}", commands, {user.id: user})
            assert problem == "" and request is not None, (words, field)
            assert request["path"] == submit["path"] and request["values"][field["name"]] == sent, (words, field, request)


def mock_outbound(requests_mock: Any) -> None:
    """What the binding calls reach: Mattermost's REST API as the plugin answers it, and the provider's APIs."""
    requests_mock.post(APPS_API + "/oauth2/user", text="")
    requests_mock.post(APPS_API + "/oauth2/app", text="")
    requests_mock.post(REVOKE_URL, text="")
    requests_mock.get(USERINFO_URL, json={"sub": "1087", "email": "a@gmail.test", "name": "A"})
    requests_mock.get(CALENDAR_API + "/calendars/primary/events", json={"items": []})
    requests_mock.get(CALENDAR_API + "/users/me/calendarList", json={"items": [{"id": "a@gmail.test", "primary": True}]})


GO_CALL_RESPONSE_KEYS = {"type", "text", "refresh_bindings", "data", "navigate_to_url", "use_external_browser", "call", "form"}


def meaning(value: Any) -> Any:
    """JSON without the zero values Go's `omitempty` leaves out (`"is_required": false` means what no key means)."""
    if isinstance(value, dict):
        return {
            k: meaning(v) for k, v in value.items() if v not in (None, False, "", 0, [], {}) or k in ("type", "name", "value")
        }
    if isinstance(value, list):
        return [meaning(v) for v in value]
    return value


def check_response(answer: dict[str, Any], handled: set[str]) -> None:
    """A CallResponse the plugin passes on unchanged, of a type the client handles, with the keys it reads."""
    assert set(answer) <= GO_CALL_RESPONSE_KEYS, answer
    passed = decode_call_response(json.dumps(answer).encode())
    if "form" in passed:
        passed["form"] = encode_form(clean_form_struct(passed["form"], PLUGIN_URL, APP_ID, []))
    expected = copy.deepcopy(answer)
    if expected.get("form", {}).get("icon"):  # the one documented change: a relative icon points at the static route
        expected["form"]["icon"] = normalize_static_path(PLUGIN_URL, APP_ID, expected["form"]["icon"])
    assert meaning(passed) == meaning(expected)  # the Go struct keeps every other key and value the app sent
    assert answer["type"] in handled, answer
    if answer["type"] in ("ok", "error"):
        assert isinstance(answer.get("text", ""), str) and (answer["type"] == "ok" or answer["text"])
    if answer["type"] == "form":
        assert webclient.truthy(answer["form"].get("submit"))
    if answer["type"] == "navigate":
        assert answer.get("navigate_to_url")
    handled_by_client = webclient.command_response(copy.deepcopy(answer))
    assert handled_by_client["type"] == answer["type"], handled_by_client


def check_lookup_response(answer: dict[str, Any]) -> None:
    """A lookup's answer as the client takes it (`actions/apps.ts` `doAppLookup`, `utils/apps.ts` `filterEmptyOptions`):
    `ok` with items whose label and value are strings (a value must be: the client calls `.match` on it) and whose
    value is not blank, or `error` with its sentence."""
    check_response(answer, {"ok", "error"})
    if answer["type"] == "error":
        assert answer["text"]
        return
    items = answer["data"]["items"]
    assert isinstance(items, list) and items, answer
    for item in items:
        assert set(item) <= {"label", "value", "icon_data"}, item
        assert isinstance(item["label"], str) and isinstance(item["value"], str) and item["value"].strip(), item


@pytest.mark.parametrize(("admin", "configured", "connected"), VIEWERS, ids=VIEWER_IDS)
def test_every_binding_call_answers_what_the_client_handles(
    web_client: Callable[[Jobs], list[dict[str, Any]]], requests_mock: Any, admin: bool, configured: bool, connected: bool
) -> None:
    mock_outbound(requests_mock)
    (constants,) = web_client([{"fn": "constants"}])
    response_types = set(constants["returned"]["AppCallResponseTypes"].values())
    handled = response_types & {"ok", "error", "form", "navigate"}  # doAppSubmit refuses "call"
    field_types = set(constants["returned"]["AppFieldTypes"].values())
    expand_levels = {"", "id", "summary", "all"}  # the plugin's; the client's "none" would fail the whole call

    forms: list[dict[str, Any]] = []
    plugin, user = viewer_plugin(admin, configured, connected)
    for _words, leaf in leaves(through_the_plugin(plugin, app_bindings(plugin, user))):
        plugin, user = viewer_plugin(admin, configured, connected)  # each call from the same start: a disconnect changes it
        for name, lookup in lookup_calls(leaf).items():  # as the client asks a dynamic select for its items
            assert all(level.lstrip("+") in expand_levels for level in lookup.get("expand", {}).values())
            answer = plugin.call(lookup["path"], lookup.get("expand"), user=user, selected_field=name, query="")
            check_lookup_response(answer)
        submit = submit_call(leaf)
        assert all(level.lstrip("+") in expand_levels for level in submit.get("expand", {}).values())
        answer = plugin.call(submit["path"], submit.get("expand"), user=user)
        check_response(answer, handled)
        if answer["type"] == "form":
            forms.append(answer["form"])
            for field in answer["form"].get("fields", []):
                assert field["type"] in field_types, field
            values = {"client_id": "1234.client.example.test", "client_secret": "secret-x"}
            form_submit = answer["form"]["submit"]
            check_response(plugin.call(form_submit["path"], form_submit.get("expand"), user=user, values=values), handled)

    if forms:
        results = web_client([{"fn": "cleanForm", "arg": form} for form in forms])
        for form, result in zip(forms, results, strict=True):
            assert result["arg"] == form  # the client's cleanForm drops and changes nothing
            python = copy.deepcopy(form)
            webclient.clean_form(python)
            assert python == result["arg"]


def test_the_install_and_oauth2_answers_keep_their_keys_through_the_plugin(requests_mock: Any) -> None:
    plugin = fake_plugin(configured=True)
    served = manifest(plugin.client)
    install = plugin.call(served["on_install"]["path"], served["on_install"].get("expand"), user=ADMIN)
    check_response(install, {"ok"})
    connect_answer = plugin.call(
        "/oauth2/connect",
        {"acting_user": "summary", "acting_user_access_token": "all", "oauth2_app": "all"},
        values={"state": "q1w2e3r4t5y6u7i8o9p0." + ALICE.id},
    )
    check_response(connect_answer, {"ok"})
    assert isinstance(connect_answer["data"], str)  # the plugin redirects to it
