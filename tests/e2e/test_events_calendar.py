"""`events --calendar` over real HTTP: alice connects at the OAuth2 server, her browser session fetches the bindings and
asks the calendar flag's lookup through the plugin's `/api/v1/call` as the web client does, then runs the command with
the picked suggestion and with a typed name (the app under gunicorn, the Calendar API stub)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.events import CALENDAR
from provider import AppProvider
from services import MANIFEST_TEMPLATE

from .calendar_stub import CALENDARS
from .harness import PLUGIN_URL_PATH, TIMEOUT, Stack, UserAgent, connect_link

pytestmark = pytest.mark.e2e

APP_ID = json.loads(MANIFEST_TEMPLATE.read_text(encoding="utf-8"))["app_id"]
EVENTS = f"/{AppProvider.command} events"
WORK = next(c for c in CALENDARS if c["summary"] == "Work")


def calendar_lookup(stack: Stack, user: UserAgent) -> dict[str, Any]:
    """The calendar field's lookup call, from the bindings the plugin hands this user's browser."""
    api = stack.emulator.url + PLUGIN_URL_PATH + "/api/v1"
    bindings = user.http.get(api + "/bindings", params={"user_agent_type": "webapp"}, timeout=TIMEOUT).json()
    (command,) = [
        b for top in bindings if top["location"] == "/command" for b in top["bindings"] if b["label"] == AppProvider.command
    ]
    (events,) = [b for b in command["bindings"] if b["label"] == "events"]
    (field,) = [f for f in events["form"]["fields"] if f["name"] == CALENDAR]
    return field["lookup"]


def test_the_calendar_lookup_and_the_picked_calendar_over_http(configured: Stack, alice: UserAgent) -> None:
    emulator = configured.emulator
    page = alice.connect(connect_link(emulator.command("alice", f"/{AppProvider.command} connect")), provider_login="alice")
    assert page.status_code == 200, page.text
    lookup = calendar_lookup(configured, alice)

    # What the web client POSTs while alice types `--calendar wo` (`doAppLookup`): the lookup call, the field, the query.
    body = {
        "path": lookup["path"],
        "expand": lookup.get("expand", {}),
        "context": {"app_id": APP_ID, "location": "/command/" + AppProvider.command + "/events", "user_agent": "webapp"},
        "selected_field": CALENDAR,
        "query": "wo",
        "values": {},
    }
    answer = alice.http.post(emulator.url + PLUGIN_URL_PATH + "/api/v1/call", json=body, timeout=TIMEOUT).json()
    assert answer["type"] == "ok", answer
    assert answer["data"]["items"] == [{"label": "Work", "value": WORK["id"]}]

    picked = emulator.command("alice", f"{EVENTS} --calendar {answer['data']['items'][0]['value']}")
    typed = emulator.command("alice", f"{EVENTS} --calendar work")
    for result in (picked, typed):
        assert result["type"] == "ok", result
        assert " on Work (" in result["text"].splitlines()[0]
        assert all(title in result["text"] for title in WORK["events"])
    assert [c["type"] for c in emulator.app_calls(lookup["path"])] == ["ok"]
