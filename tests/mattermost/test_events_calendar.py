"""`events --calendar` in the SDK's emulated Mattermost: typed on the command line through the web client's parser
(flags, quotes), its lookup asked as the client asks it, its modal submitted; the app in-process, the Calendar API the
end-to-end stub over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

from app import create_app
from handlers import messages
from handlers.events import CALENDAR
from mattermost_apps.testing import Mattermost, serve
from provider import AppProvider
from settings import Settings
from tests.conftest import APP_SECRET, make_settings
from tests.e2e.calendar_stub import CALENDARS, EVENT_TITLES, create_calendar_stub
from tests.unit.conftest import make_record
from user_tokens import TokenCipher

pytestmark = pytest.mark.e2e

EVENTS = f"/{AppProvider.command} events"
EMAIL = "alice@gmail.test"
TEAM, WORK, HOLIDAYS = CALENDARS


def userinfo_stub() -> Flask:
    """The provider's userinfo, which the Calendar stub asks about each token: only alice's is good."""
    app = Flask(__name__)

    @app.get("/me")
    def me() -> ResponseReturnValue:
        if request.headers.get("Authorization") != "Bearer " + make_record().access_token:
            return jsonify(error="invalid_token"), 401
        return jsonify(sub="1087", email=EMAIL)

    return app


@pytest.fixture
def calendar_api() -> Iterator[str]:
    userinfo = serve(lambda url: userinfo_stub())
    calendar = serve(lambda url: create_calendar_stub(userinfo.url + "/me"))
    yield calendar.url
    calendar.stop()
    userinfo.stop()


@pytest.fixture
def connected(mattermost: Mattermost, calendar_api: str) -> Mattermost:
    """The app installed and configured, and alice connected (every scope granted)."""
    assert mattermost.install(create_app(make_settings(google_api_url=calendar_api)), secret=APP_SECRET).startswith("Installed")
    store = mattermost.store
    assert store.app is not None
    store.app.remote_oauth2 = {"client_id": "id", "client_secret": "secret"}
    alice = mattermost.user("alice")
    sealed = TokenCipher(Settings(app_secret=APP_SECRET).token_keys).seal(make_record(), user_id=alice.id)
    store.oauth2_users[(store.app.app_id, alice.id)] = json.dumps(sealed).encode()
    return mattermost


def calendar_field(mattermost: Mattermost, as_user: str = "alice") -> dict[str, Any]:
    form = mattermost.command_binding(AppProvider.command, "events", as_user=as_user)["form"]
    (field,) = [f for f in form["fields"] if f["name"] == CALENDAR]
    return field


def look_up(mattermost: Mattermost, query: str = "", as_user: str = "alice") -> dict[str, Any]:
    field = calendar_field(mattermost, as_user)
    return mattermost.lookup(field["lookup"], selected_field=CALENDAR, query=query, as_user=as_user)


def titles(answer: dict[str, Any]) -> list[str]:
    assert answer["type"] == "ok", answer
    return [line.split("** ", 1)[1].split("](")[0].lstrip("[") for line in answer["text"].splitlines()[1:]]


def test_the_flag_is_a_dynamic_select_named_calendar(connected: Mattermost) -> None:
    field = calendar_field(connected)
    assert field["label"] == "calendar" and field["type"] == "dynamic_select" and "position" not in field


def test_the_lookup_offers_the_users_calendars_primary_first(connected: Mattermost) -> None:
    answer = look_up(connected)
    assert answer["type"] == "ok", answer
    assert answer["data"]["items"] == [
        {"label": EMAIL, "value": EMAIL},
        {"label": HOLIDAYS["summary"], "value": HOLIDAYS["id"]},
        {"label": TEAM["summary"], "value": TEAM["id"]},
        {"label": WORK["summary"], "value": WORK["id"]},
    ]
    found = [item["label"] for item in look_up(connected, "O")["data"]["items"]]
    assert found == [HOLIDAYS["summary"], TEAM["summary"], WORK["summary"]]
    assert look_up(connected, "zzz")["data"] == {"items": []}


def test_the_lookup_for_a_user_who_never_connected_says_so(connected: Mattermost) -> None:
    assert look_up(connected, as_user="bob") == {"type": "error", "text": messages.text("not_connected")}


def test_without_the_flag_the_primary_calendar_is_listed(connected: Mattermost) -> None:
    answer = connected.command(EVENTS)
    assert titles(answer) == list(EVENT_TITLES)


@pytest.mark.parametrize(
    ("typed", "calendar"),
    [
        pytest.param("--calendar Work", WORK, id="by name"),
        pytest.param("--calendar wORK", WORK, id="by name in any case"),
        pytest.param('--calendar "Team offsite"', TEAM, id="a name with a space, in quotes"),
        pytest.param("--calendar `team offsite`", TEAM, id="in backticks"),
        pytest.param("--calendar=Work", WORK, id="with ="),
        pytest.param(f"--calendar {HOLIDAYS['id']}", HOLIDAYS, id="by id, as a picked suggestion puts it"),
    ],
)
def test_the_named_calendars_events_are_listed(connected: Mattermost, typed: str, calendar: dict[str, Any]) -> None:
    answer = connected.command(f"{EVENTS} {typed}")
    assert answer["text"].splitlines()[0].startswith(f"Your next {len(calendar['events'])} event")
    assert f" on {calendar['summary']} (" in answer["text"].splitlines()[0]
    assert titles(answer) == list(calendar["events"])


def test_the_suggestion_picked_from_the_lookup_runs(connected: Mattermost) -> None:
    (item,) = look_up(connected, "holidays")["data"]["items"]
    assert titles(connected.command(f"{EVENTS} --calendar {item['value']}")) == list(HOLIDAYS["events"])


def test_an_unknown_calendar_gets_one_sentence_naming_it(connected: Mattermost) -> None:
    assert connected.command(f"{EVENTS} --calendar Nope") == {
        "type": "error",
        "text": messages.text("events.unknown_calendar", calendar="'Nope'"),
    }


def test_a_name_with_a_space_typed_without_quotes_gets_the_quoted_command(connected: Mattermost) -> None:
    answer = connected.command(f"{EVENTS} --calendar Team offsite")
    assert answer["type"] == "error"
    assert answer["text"].endswith('--calendar "Team offsite".'), answer


def test_the_modal_submits_the_picked_calendar(connected: Mattermost) -> None:
    # "Open in modal": the same form; a picked item arrives as {label, value}.
    form = connected.command_binding(AppProvider.command, "events")["form"]
    answer = connected.submit(form["submit"], {CALENDAR: {"label": WORK["summary"], "value": WORK["id"]}, "words": None})
    assert titles(answer) == list(WORK["events"])
