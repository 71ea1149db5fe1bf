"""`events --calendar`: the lookup that offers the user's calendars (`calendarList.list`) as they type, and the
submit that lists the next events of the calendar they named, by id (a picked suggestion) or by name (typed), or of
their primary calendar when they named none (handlers/events.py, provider/calendar.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from handlers import messages
from handlers.events import CALENDAR
from tests.conftest import ALICE, CALENDAR_API, CLIENT_ID, CLIENT_SECRET, COMMAND, TOKEN_URL, paths

from .conftest import stored_bodies

LIST_URL = CALENDAR_API + "/users/me/calendarList"
PRIMARY_EVENTS = CALENDAR_API + "/calendars/primary/events"
PRIMARY: dict[str, Any] = {"id": "alice@gmail.com", "summary": "alice@gmail.com", "primary": True, "accessRole": "owner"}
WORK = {"id": "c_9a8b7c6d5e4f@group.calendar.example.test", "summary": "Work", "accessRole": "owner"}
TEAM = {"id": "c_0f1e2d3c4b5a@group.calendar.example.test", "summary": "Team offsite", "accessRole": "reader"}
# The Calendar API's holiday calendars have a `#` in their id: in a URL it must be escaped, or it starts the fragment.
HOLIDAYS = {"id": "en.usa#holiday@group.v.calendar.example.test", "summary": "Holidays in United States", "accessRole": "reader"}
# A calendar the user renamed for themselves: they see (and type) their own name.
RENAMED = {"id": "c_5555@group.calendar.example.test", "summary": "Eng – shared", "summaryOverride": "Engineering"}
ACCOUNTING = {"id": "c_acc0@group.calendar.example.test", "summary": "Accounting"}  # before the primary one by name
CALENDARS = [WORK, HOLIDAYS, ACCOUNTING, PRIMARY, TEAM, RENAMED]  # the API promises no order
EVENT = {
    "summary": "Sprint planning",
    "status": "confirmed",
    "start": {"dateTime": "2030-01-02T10:00:00Z"},
    "end": {"dateTime": "2030-01-02T11:00:00Z"},
}

EVENTS = COMMAND["events"]
((LOOKUP, _handler),) = [(call, handler) for call, handler in EVENTS.calls() if call.path != EVENTS.path]
REFRESHED = {"access_token": "ya29.refreshed", "expires_in": 3599, "token_type": "Bearer"}


def events_url(calendar: dict) -> str:
    return f"{CALENDAR_API}/calendars/{quote(calendar['id'], safe='')}/events"


@pytest.fixture
def connected(plugin, connect_user):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    connect_user(ALICE, access_token="ya29.fresh")
    return plugin


@pytest.fixture
def calendar_list(requests_mock):
    return requests_mock.get(LIST_URL, json={"kind": "calendar#calendarList", "items": CALENDARS})


def look_up(plugin, query: str | None = None, **kwargs):
    return plugin.call(LOOKUP.path, dict(LOOKUP.expand), selected_field=CALENDAR, query=query, **kwargs)


def items(answer) -> list[tuple[str, str]]:
    assert answer["type"] == "ok", answer
    return [(item["label"], item["value"]) for item in answer["data"]["items"]]


def submit(plugin, calendar=None, **values):
    if calendar is not None:
        values[CALENDAR] = calendar
    return plugin.call(paths.EVENTS, dict(EVENTS.expand), values=values)


def typed(text: str) -> dict[str, str]:
    """A dynamic select's value as the web client sends it when typed on the command line, or picked from the list."""
    return {"label": text, "value": text}


# -- the lookup ---------------------------------------------------------------------------------------------------


def test_the_lookup_lists_every_calendar_primary_first_then_by_name(connected, calendar_list):
    assert items(look_up(connected)) == [
        ("alice@gmail.com", PRIMARY["id"]),
        ("Accounting", ACCOUNTING["id"]),
        ("Engineering", RENAMED["id"]),
        ("Holidays in United States", HOLIDAYS["id"]),
        ("Team offsite", TEAM["id"]),
        ("Work", WORK["id"]),
    ]
    request = calendar_list.last_request
    assert request.headers["Authorization"] == "Bearer ya29.fresh"
    assert parse_qs(urlsplit(request.url).query) == {"maxResults": ["250"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a", ["alice@gmail.com", "Accounting", "Holidays in United States", "Team offsite"]),  # primary first, then by name
        ("te", ["Holidays in United States", "Team offsite"]),  # holds it, ignoring case
        ("WORK", ["Work"]),
        ("  off", ["Team offsite"]),
        ("engineering", ["Engineering"]),  # the user's own name for it
        ("c_9a8b", ["Work"]),  # the start of an id: what a picked suggestion put on the command line
        ("alice", ["alice@gmail.com"]),
        ("nothing like it", []),
    ],
)
def test_the_lookup_keeps_the_calendars_whose_name_holds_what_was_typed(connected, calendar_list, query, expected):
    assert [label for label, _value in items(look_up(connected, query))] == expected


def test_the_lookup_reads_every_page_of_the_list(connected, requests_mock):
    requests_mock.get(
        LIST_URL,
        [{"json": {"items": [WORK], "nextPageToken": "page2"}}, {"json": {"items": [PRIMARY]}}],
    )
    assert [value for _label, value in items(look_up(connected))] == [PRIMARY["id"], WORK["id"]]
    assert [parse_qs(urlsplit(r.url).query).get("pageToken") for r in requests_mock.request_history] == [None, ["page2"]]


def test_the_lookup_skips_entries_it_cannot_offer(connected, requests_mock):
    odd = [
        {"summary": "no id"},
        {"id": ""},
        "not an object",
        {"id": "gone@x", "summary": "Gone", "deleted": True},
        {"id": "bare@x"},
    ]
    requests_mock.get(LIST_URL, json={"items": [*odd, WORK]})
    assert items(look_up(connected)) == [("bare@x", "bare@x"), ("Work", WORK["id"])]


def test_the_lookup_when_not_connected_says_so_in_plain_text(plugin, requests_mock):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    assert look_up(plugin, "wo") == {"type": "error", "text": messages.text("not_connected")}
    assert requests_mock.request_history == []


def test_the_lookup_without_the_calendar_scope_names_the_permission_and_calls_nothing(plugin, connect_user, requests_mock):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    connect_user(ALICE, scope="openid email profile")
    permission = messages.text("permission.events")
    assert look_up(plugin) == {
        "type": "error",
        "text": messages.text("scope.missing", command=f"/{paths.COMMAND} events", permission=permission),
    }
    assert requests_mock.request_history == []


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"status_code": 503, "json": {}}, "provider.unavailable"),
        ({"json": {"items": "nope"}}, "provider.other"),
        ({"text": "<html>"}, "provider.other"),
    ],
    ids=["unavailable", "malformed items", "not JSON"],
)
def test_the_lookup_words_a_failure_of_the_calendar_api(connected, requests_mock, answer, reason):
    requests_mock.get(LIST_URL, **answer)
    operation = messages.text("provider_operation.list_calendars")
    assert look_up(connected, "wo") == {"type": "error", "text": messages.text(reason, operation=operation)}


def test_the_lookup_refreshes_a_stale_token_and_stores_it(plugin, connect_user, requests_mock, mattermost):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    connect_user(ALICE, expires_in=-1)
    requests_mock.post(TOKEN_URL, json=REFRESHED)
    api = requests_mock.get(LIST_URL, json={"items": [WORK]})
    assert items(look_up(plugin)) == [("Work", WORK["id"])]
    assert api.last_request.headers["Authorization"] == "Bearer ya29.refreshed"
    assert len(stored_bodies(requests_mock)) == 1


# -- the submit -----------------------------------------------------------------------------------------------------


def test_without_a_calendar_the_primary_one_is_listed_and_the_list_is_not_read(connected, requests_mock):
    api = requests_mock.get(PRIMARY_EVENTS, json={"items": [EVENT]})
    answer = submit(connected)
    assert answer["type"] == "ok" and answer["text"].startswith(messages.text("events.header", count=1, plural="", zone="UTC"))
    assert [r.url.split("?")[0] for r in requests_mock.request_history] == [PRIMARY_EVENTS]
    assert api.called_once


@pytest.mark.parametrize(
    ("value", "calendar"),
    [
        pytest.param(typed(WORK["id"]), WORK, id="picked from the list: its id"),
        pytest.param({"label": "Work", "value": WORK["id"]}, WORK, id="picked in a modal"),
        pytest.param(typed("Work"), WORK, id="typed: its name"),
        pytest.param(typed("wORK"), WORK, id="typed: its name in any case"),
        pytest.param(typed("Team offsite"), TEAM, id="typed in quotes: a name with a space"),
        pytest.param(typed("engineering"), RENAMED, id="the user's own name for it"),
        pytest.param(typed(HOLIDAYS["id"]), HOLIDAYS, id="an id with a #"),
        pytest.param(typed(PRIMARY["id"]), PRIMARY, id="the primary one, named"),
    ],
)
def test_the_chosen_calendars_events_are_listed(connected, calendar_list, requests_mock, value, calendar):
    api = requests_mock.get(events_url(calendar), json={"items": [EVENT]})
    answer = submit(connected, value)
    name = calendar.get("summaryOverride") or calendar["summary"]
    expected_header = messages.text("events.header_on", count=1, plural="", zone="UTC", calendar=name)
    assert answer["type"] == "ok", answer
    assert answer["text"].splitlines()[0] == expected_header
    assert "Sprint planning" in answer["text"]
    assert api.last_request.headers["Authorization"] == "Bearer ya29.fresh"
    assert [r.url.split("?")[0] for r in requests_mock.request_history] == [LIST_URL, events_url(calendar)]


def test_an_id_wins_over_a_name(connected, requests_mock):
    # A calendar named like another one's id: the id is what a picked suggestion sends.
    impostor = {"id": "c_impostor@group.calendar.example.test", "summary": WORK["id"]}
    requests_mock.get(LIST_URL, json={"items": [impostor, WORK]})
    api = requests_mock.get(events_url(WORK), json={"items": []})
    answer = submit(connected, typed(WORK["id"]))
    assert answer == {"type": "ok", "text": messages.text("events.none_on", calendar="Work")}
    assert api.called_once


def test_a_calendar_name_is_shown_as_text_in_markdown(connected, requests_mock):
    odd = {"id": "c_odd@group.calendar.example.test", "summary": "*Launch*\n# [x](https://evil.test)"}
    requests_mock.get(LIST_URL, json={"items": [odd]})
    requests_mock.get(events_url(odd), json={"items": []})
    answer = submit(connected, typed(odd["id"]))
    assert answer == {
        "type": "ok",
        "text": messages.text("events.none_on", calendar=r"\*Launch\* \# \[x\]\(https://evil.test\)"),
    }


@pytest.mark.parametrize(
    "name",
    ["Nope", "a\nnew line", "`code` *bold* [x](https://evil.test)", "x" * 500, "ye"],
    ids=["unknown", "newline", "markdown", "long", "part of a name"],
)
def test_an_unknown_calendar_gets_one_plain_sentence_naming_it(connected, calendar_list, requests_mock, name):
    answer = submit(connected, typed(name))
    assert answer == {"type": "error", "text": messages.text("events.unknown_calendar", calendar=messages.quoted(name.strip()))}
    text = answer["text"]
    assert "\n" not in text and len(text) < 200 and "`" not in text.replace(repr("`code`")[1:-1], "")
    assert [r.url.split("?")[0] for r in requests_mock.request_history] == [LIST_URL]  # no events asked for


def test_a_name_that_lost_its_quotes_gets_a_hint(connected, calendar_list):
    # `--calendar Team offsite`: the flag takes "Team"; "offsite" goes to the rest of the line.
    answer = submit(connected, typed("Team"), words="offsite")
    assert answer == {
        "type": "error",
        "text": messages.text("events.unknown_calendar", calendar=messages.quoted("Team"))
        + messages.text("events.quote_the_name", name="Team offsite"),
    }
    assert '--calendar "Team offsite"' in answer["text"]
    # Words that do not complete a name get no hint.
    plain = submit(connected, typed("Team"), words="please")
    assert plain == {"type": "error", "text": messages.text("events.unknown_calendar", calendar=messages.quoted("Team"))}


def test_two_calendars_of_one_name_are_not_guessed_between(connected, requests_mock):
    twin = {"id": "c_twin@group.calendar.example.test", "summary": "work"}
    requests_mock.get(LIST_URL, json={"items": [WORK, twin]})
    answer = submit(connected, typed("Work"))
    assert answer == {
        "type": "error",
        "text": messages.text("events.ambiguous_calendar", calendar=messages.quoted("Work"), count=2),
    }
    # Its id still picks it.
    requests_mock.get(events_url(twin), json={"items": []})
    assert submit(connected, typed(twin["id"]))["type"] == "ok"


def test_a_calendar_that_went_away_between_the_list_and_the_events(connected, calendar_list, requests_mock):
    requests_mock.get(events_url(WORK), status_code=404, json={"error": {"code": 404, "status": "NOT_FOUND"}})
    answer = submit(connected, typed("Work"))
    operation = messages.text("provider_operation.list_events")
    assert answer == {"type": "error", "text": messages.text("provider.other", operation=operation)}


def test_a_token_the_list_refuses_is_refreshed_once_and_the_submit_goes_on(connected, requests_mock, mattermost):
    # Revoked at the provider or expired early: the token helper refreshes it and runs the handler again.
    api = requests_mock.get(LIST_URL, [{"status_code": 401}, {"json": {"items": [WORK]}}])
    requests_mock.post(TOKEN_URL, json=REFRESHED)
    requests_mock.get(events_url(WORK), json={"items": []})
    assert submit(connected, typed("Work")) == {"type": "ok", "text": messages.text("events.none_on", calendar="Work")}
    assert [r.headers["Authorization"] for r in api.request_history] == ["Bearer ya29.fresh", "Bearer ya29.refreshed"]
    assert len(stored_bodies(requests_mock)) == 1


def test_a_value_of_a_shape_no_client_sends_is_refused(connected, requests_mock):
    answer = submit(connected, {"label": "Work", "value": ["not", "a", "string"]})
    assert answer["type"] == "error" and answer["text"] == messages.text("call.bad_value", field=CALENDAR)
    assert requests_mock.request_history == []
