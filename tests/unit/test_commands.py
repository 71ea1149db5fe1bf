"""The user's sub-commands `connect`, `disconnect`, `info`, `events`, `help`, and the
token they use: from the context, refreshed only when stale, stored back, cleared when the grant is dead
(handlers/commands.py, user_tokens/service.py, provider/calendar.py)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from bindings import Viewer, visible
from commands import COMMANDS
from handlers import messages
from handlers.events import format_events
from provider import AppProvider, CalendarEvent
from tests.conftest import (
    ADMIN,
    ALICE,
    ALICE_TOKEN,
    CALENDAR_API,
    CLIENT_ID,
    CLIENT_SECRET,
    COMMAND,
    CONNECT_EXPAND,
    DISCONNECT_EXPAND,
    HELP_EXPAND,
    REVOKE_URL,
    TOKEN_URL,
    TOKEN_USE_EXPAND,
    USERINFO_URL,
    paths,
)
from tests.names import CMD, PROVIDER

from .conftest import CONNECT_URL, IDENTITY, OAUTH2_USER_URL, basic_auth, sent_to, stored_bodies

JSON = {"Content-Type": "application/json; charset=utf-8"}
EVENTS_URL = CALENDAR_API + "/calendars/primary/events"
USERINFO = {"sub": IDENTITY.sub, "email": IDENTITY.email, "name": IDENTITY.name}
REFRESHED = {"access_token": "ya29.refreshed", "expires_in": 3599, "token_type": "Bearer"}
PARIS = {"automaticTimezone": "", "manualTimezone": "Europe/Paris", "useAutomaticTimezone": "false"}


@pytest.fixture
def configured(plugin):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    return plugin


def urls(requests_mock):
    return [(r.method, r.url.split("?")[0]) for r in requests_mock.request_history]


# -- connect ------------------------------------------------------------------------------------------


def test_connect_answers_a_markdown_link_to_the_plugins_connect_url(configured, requests_mock):
    result = configured.call(paths.CONNECT, CONNECT_EXPAND)
    assert result == {"type": "ok", "text": f"[Connect your {PROVIDER} account]({CONNECT_URL})."}
    assert requests_mock.request_history == []


@pytest.mark.parametrize("oauth2_app", [{}, {"client_id": CLIENT_ID}], ids=["nothing stored", "no secret"])
def test_connect_when_not_configured_says_to_ask_an_admin(plugin, requests_mock, oauth2_app):
    # hello-oauth2 sent users to the provider with an empty client id.
    plugin.installed.oauth2_app = oauth2_app
    result = plugin.call(paths.CONNECT, CONNECT_EXPAND)
    assert result == {"type": "error", "text": messages.text("not_configured")}
    assert result["text"].count(". ") == 0 and f"{CMD} configure" in result["text"]


def test_connect_when_already_connected_names_the_account_and_offers_to_switch(configured, connect_user, requests_mock):
    connect_user(ALICE)
    result = configured.call(paths.CONNECT, CONNECT_EXPAND)
    assert result["type"] == "ok"
    assert "**alice@gmail.com** is already connected" in result["text"]
    assert f"]({CONNECT_URL})" in result["text"]
    assert requests_mock.request_history == []


def test_connect_with_an_unreadable_record_offers_a_plain_connect(configured):
    configured.store_user_record(ALICE, {"v": 1, "fernet": "garbage"})
    assert configured.call(paths.CONNECT, CONNECT_EXPAND)["text"] == f"[Connect your {PROVIDER} account]({CONNECT_URL})."


# -- disconnect ---------------------------------------------------------------------------------------


def test_disconnect_stores_null_then_revokes_the_refresh_token(configured, connect_user, mattermost, requests_mock):
    connect_user(ALICE, refresh_token="1//to-revoke")
    revoke = requests_mock.post(REVOKE_URL, text="")
    result = configured.call(paths.DISCONNECT, DISCONNECT_EXPAND)
    assert result == {
        "type": "ok",
        "text": f"Disconnected your {PROVIDER} account **alice@gmail.com**.",
        "refresh_bindings": True,
    }
    assert parse_qs(revoke.last_request.body) == {"token": ["1//to-revoke"]}
    assert revoke.last_request.headers["Authorization"] == basic_auth(CLIENT_ID, CLIENT_SECRET)
    assert mattermost.oauth2_user.last_request.body == b"null"
    assert mattermost.oauth2_user.last_request.headers["Authorization"] == f"Bearer {ALICE_TOKEN}"
    # Cleared first: a clear that fails must leave a record whose grant is still alive.
    assert urls(requests_mock) == [("POST", OAUTH2_USER_URL), ("POST", REVOKE_URL)]


def test_disconnect_without_refresh_token_revokes_the_access_token(configured, connect_user, mattermost, requests_mock):
    connect_user(ALICE, access_token="ya29.only", refresh_token=None)
    revoke = requests_mock.post(REVOKE_URL, text="")
    configured.call(paths.DISCONNECT, DISCONNECT_EXPAND)
    assert parse_qs(revoke.last_request.body) == {"token": ["ya29.only"]}


@pytest.mark.parametrize(
    "answer",
    [{"status_code": 400, "json": {"error": "invalid_token"}}, {"status_code": 503}, {"exc": requests.ConnectTimeout}],
    ids=["400 already revoked", "503", "timeout"],
)
def test_disconnect_still_disconnects_when_revocation_fails_and_says_so(
    configured, connect_user, mattermost, requests_mock, answer
):
    connect_user(ALICE)
    requests_mock.post(REVOKE_URL, **answer)
    result = configured.call(paths.DISCONNECT, DISCONNECT_EXPAND)
    assert result["type"] == "ok" and result["refresh_bindings"] is True
    assert f"{PROVIDER} did not confirm the revocation" in result["text"]
    assert AppProvider.manage_access_url in result["text"]
    assert stored_bodies(requests_mock) == [None]


def test_disconnect_when_not_connected_stores_null_without_revoking(configured, mattermost, requests_mock):
    result = configured.call(paths.DISCONNECT, DISCONNECT_EXPAND)
    assert result["type"] == "ok" and result["refresh_bindings"] is True
    assert "not connected" in result["text"]
    assert urls(requests_mock) == [("POST", OAUTH2_USER_URL)]
    assert stored_bodies(requests_mock) == [None]


def test_disconnect_an_unreadable_record_clears_it_and_says_it_could_not_revoke(configured, mattermost, requests_mock):
    configured.store_user_record(ALICE, {"v": 1, "fernet": "garbage"})
    answer = configured.call(paths.DISCONNECT, DISCONNECT_EXPAND)
    assert answer["type"] == "ok" and answer["text"].startswith(messages.text("disconnect.unreadable")), answer
    assert stored_bodies(requests_mock) == [None]
    assert not [r for r in requests_mock.request_history if r.url.startswith(REVOKE_URL)]  # nothing to revoke with


def test_an_events_link_cannot_end_its_markdown_link_early():
    event = CalendarEvent("Review", datetime(2030, 1, 2, 9, tzinfo=UTC), None, "https://calendar.example/e?x=a) b](<c>")
    line = format_events([event], time_zone="UTC").splitlines()[1]
    assert line.endswith("[Review](https://calendar.example/e?x=a%29%20b%5D%28%3Cc%3E)"), line


@pytest.mark.parametrize(
    ("answer", "expected_text"),
    [
        ({"status_code": 500, "text": "boom"}, "Mattermost failed to store your connection (HTTP 500); please try again."),
        (
            {"status_code": 401, "text": "not an app session: unauthorized"},
            "Mattermost refused to store your connection (HTTP 401).",
        ),
        ({"exc": requests.ConnectionError}, "Mattermost could not be reached from the app; please try again in a minute."),
    ],
    ids=["500", "401", "unreachable"],
)
def test_disconnect_store_failure_is_an_error_and_revokes_nothing(configured, connect_user, requests_mock, answer, expected_text):
    # The record stays stored, so its grant must stay alive: a revoked grant behind a stored record is a user told
    # they are connected to a dead token.
    connect_user(ALICE)
    revoke = requests_mock.post(REVOKE_URL, text="")
    requests_mock.post(OAUTH2_USER_URL, **answer)
    assert configured.call(paths.DISCONNECT, DISCONNECT_EXPAND) == {"type": "error", "text": expected_text}
    assert revoke.call_count == 0


# -- info: a fresh token is used as is ----------------------------------------------------------------


def test_info_shows_the_connected_identity(configured, connect_user, requests_mock):
    connect_user(ALICE, access_token="ya29.fresh")
    userinfo = requests_mock.get(USERINFO_URL, json=USERINFO)
    result = configured.call(paths.INFO, TOKEN_USE_EXPAND)
    assert result == {
        "type": "ok",
        # The account first, as the account chooser shows it, then the person's name.
        "text": f"Connected to {PROVIDER} as **alice@gmail.com** (Alice G).\n- {PROVIDER} account ID: `{IDENTITY.sub}`",
    }
    assert userinfo.last_request.headers["Authorization"] == "Bearer ya29.fresh"


@pytest.mark.parametrize(
    ("email", "name", "shown"),
    [("", "Alice G", "Alice G"), ("", "", IDENTITY.sub)],
    ids=["no email: the name", "no email or name: the account id"],
)
def test_every_answer_names_the_account_the_same_way(configured, connect_user, mattermost, requests_mock, email, name, shown):
    # A provider may give no email (a scope unticked, or none to give): connect, info and disconnect all fall back alike.
    identity = replace(IDENTITY, email=email, name=name)
    connect_user(ALICE, identity=identity)
    assert f"**{shown}** is already connected" in configured.call(paths.CONNECT, CONNECT_EXPAND)["text"]
    requests_mock.get(USERINFO_URL, json={"sub": identity.sub, "email": email, "name": name})
    assert f"**{shown}**." in configured.call(paths.INFO, TOKEN_USE_EXPAND)["text"]
    requests_mock.post(REVOKE_URL, text="")
    assert configured.call(paths.DISCONNECT, DISCONNECT_EXPAND)["text"].endswith(f"**{shown}**.")


def test_info_with_a_fresh_token_makes_one_round_trip(configured, connect_user, requests_mock):
    # No refresh (another OAuth2 App refreshed on every call) and no GET /oauth2/user: the record is in the context.
    connect_user(ALICE, expires_in=3000)
    requests_mock.get(USERINFO_URL, json=USERINFO)
    configured.call(paths.INFO, TOKEN_USE_EXPAND)
    assert urls(requests_mock) == [("GET", USERINFO_URL)]


def test_info_with_a_token_of_unknown_expiry_uses_it(configured, connect_user, requests_mock):
    connect_user(ALICE, expires_in=None)
    requests_mock.get(USERINFO_URL, json=USERINFO)
    assert configured.call(paths.INFO, TOKEN_USE_EXPAND)["type"] == "ok"
    assert urls(requests_mock) == [("GET", USERINFO_URL)]


def test_info_when_not_connected_says_to_connect(configured, requests_mock):
    result = configured.call(paths.INFO, TOKEN_USE_EXPAND)
    assert result == {"type": "error", "text": f"Your {PROVIDER} account is not connected: run {CMD} connect first."}
    assert requests_mock.request_history == []


def test_info_with_an_unreadable_record_says_to_reconnect(configured, requests_mock):
    configured.store_user_record(ALICE, {"v": 1, "fernet": "garbage"})
    result = configured.call(paths.INFO, TOKEN_USE_EXPAND)
    assert result["type"] == "error" and f"run {CMD} connect again" in result["text"]
    assert requests_mock.request_history == []


# -- info: a stale token is refreshed and stored back -------------------------------------------------


@pytest.mark.parametrize("expires_in", [-3600, -1, 30], ids=["expired an hour ago", "just expired", "expires in 30 s"])
def test_stale_token_is_refreshed_and_the_new_record_stored_back(
    configured, connect_user, mattermost, requests_mock, cipher, expires_in
):
    # hello-oauth2's inverted condition meant a refreshed token was never persisted.
    connect_user(ALICE, access_token="ya29.stale", refresh_token="1//keep", expires_in=expires_in)
    refresh = requests_mock.post(TOKEN_URL, json=REFRESHED)
    userinfo = requests_mock.get(USERINFO_URL, json=USERINFO)
    result = configured.call(paths.INFO, TOKEN_USE_EXPAND)
    assert result["type"] == "ok"
    assert parse_qs(refresh.last_request.body) == {"grant_type": ["refresh_token"], "refresh_token": ["1//keep"]}
    assert refresh.last_request.headers["Authorization"] == basic_auth(CLIENT_ID, CLIENT_SECRET)
    assert userinfo.last_request.headers["Authorization"] == "Bearer ya29.refreshed"
    (stored,) = stored_bodies(requests_mock)
    record = cipher.open(stored, user_id=ALICE.id)
    assert record.access_token == "ya29.refreshed"
    assert record.refresh_token == "1//keep"  # a refresh answer without one (as from a provider that does not rotate): keep ours
    assert record.expires_at == pytest.approx(time.time() + 3599, abs=5)
    assert record.identity == IDENTITY
    assert mattermost.oauth2_user.last_request.headers["Authorization"] == f"Bearer {ALICE_TOKEN}"
    # The refresh first; then the API call and the store of the refreshed record, side by side.
    first, *then = urls(requests_mock)
    assert first == ("POST", TOKEN_URL)
    assert sorted(then) == sorted([("POST", OAUTH2_USER_URL), ("GET", USERINFO_URL)])


def test_a_rotated_refresh_token_is_stored(configured, connect_user, mattermost, requests_mock, cipher):
    connect_user(ALICE, refresh_token="1//old", expires_in=-1)
    requests_mock.post(TOKEN_URL, json={**REFRESHED, "refresh_token": "1//rotated"})
    requests_mock.get(USERINFO_URL, json=USERINFO)
    configured.call(paths.INFO, TOKEN_USE_EXPAND)
    assert cipher.open(stored_bodies(requests_mock)[0], user_id=ALICE.id).refresh_token == "1//rotated"


def test_a_failed_store_of_the_refreshed_record_still_answers(configured, connect_user, requests_mock):
    connect_user(ALICE, expires_in=-1)
    requests_mock.post(TOKEN_URL, json=REFRESHED)
    requests_mock.post(OAUTH2_USER_URL, status_code=500)
    requests_mock.get(USERINFO_URL, json=USERINFO)
    assert configured.call(paths.INFO, TOKEN_USE_EXPAND)["type"] == "ok"


@pytest.mark.parametrize(
    "answer",
    [
        {
            "status_code": 400,
            "json": {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
            "headers": JSON,
        },
        {"status_code": 400, "json": {"error": "invalid_grant", "error_subtype": "invalid_rapt"}, "headers": JSON},
    ],
    ids=["revoked", "invalid_rapt"],
)
def test_invalid_grant_on_refresh_clears_the_record_and_says_to_reconnect(
    configured, connect_user, mattermost, requests_mock, answer
):
    connect_user(ALICE, expires_in=-1)
    requests_mock.post(TOKEN_URL, **answer)
    result = configured.call(paths.INFO, TOKEN_USE_EXPAND)
    assert result == {
        "type": "error",
        "text": f"{PROVIDER} no longer accepts your connection (it was revoked or has expired): run {CMD} connect again.",
    }
    assert stored_bodies(requests_mock) == [None]
    assert sent_to(requests_mock, USERINFO_URL) == []


def test_stale_token_without_refresh_token_clears_the_record(configured, connect_user, mattermost, requests_mock):
    connect_user(ALICE, refresh_token=None, expires_in=-1)
    result = configured.call(paths.INFO, TOKEN_USE_EXPAND)
    assert result["type"] == "error" and f"run {CMD} connect again" in result["text"]
    # What Mattermost holds is read first: a record a reconnect has just stored must not be cleared.
    assert urls(requests_mock) == [("GET", OAUTH2_USER_URL), ("POST", OAUTH2_USER_URL)]
    assert stored_bodies(requests_mock) == [None]


@pytest.mark.parametrize(
    ("answer", "expected_text"),
    [
        (
            {"status_code": 500, "text": "<html>"},
            f"{PROVIDER} could not be reached to refresh the access token; please try again in a minute.",
        ),
        (
            {"exc": requests.ReadTimeout},
            f"{PROVIDER} could not be reached to refresh the access token; please try again in a minute.",
        ),
        (
            {"status_code": 401, "json": {"error": "invalid_client"}, "headers": JSON},
            f"{PROVIDER} rejected the app's OAuth2 client ID or secret: ask a system admin to check {CMD} configure.",
        ),
    ],
    ids=["500", "timeout", "invalid_client"],
)
def test_refresh_failure_other_than_invalid_grant_keeps_the_record(
    configured, connect_user, requests_mock, answer, expected_text
):
    connect_user(ALICE, expires_in=-1)
    refresh = requests_mock.post(TOKEN_URL, **answer)
    assert configured.call(paths.INFO, TOKEN_USE_EXPAND) == {"type": "error", "text": expected_text}
    assert refresh.call_count == 1
    assert sent_to(requests_mock, OAUTH2_USER_URL) == []  # the grant may still be good: nothing cleared


def test_stale_token_with_the_client_removed_says_so(plugin, connect_user, requests_mock):
    connect_user(ALICE, expires_in=-1)
    result = plugin.call(paths.INFO, TOKEN_USE_EXPAND)
    assert result["type"] == "error" and f"{CMD} configure" in result["text"]
    assert requests_mock.request_history == []


# -- info: the API refuses the token ------------------------------------------------------------------


def test_api_401_with_an_unexpired_token_refreshes_once_and_retries(configured, connect_user, mattermost, requests_mock, cipher):
    connect_user(ALICE, access_token="ya29.revoked-early", expires_in=3000)
    userinfo = requests_mock.get(USERINFO_URL, [{"status_code": 401, "json": {"error": "invalid_token"}}, {"json": USERINFO}])
    refresh = requests_mock.post(TOKEN_URL, json=REFRESHED)
    result = configured.call(paths.INFO, TOKEN_USE_EXPAND)
    assert result["type"] == "ok" and "alice@gmail.com" in result["text"]
    assert refresh.call_count == 1 and userinfo.call_count == 2
    assert [r.headers["Authorization"] for r in userinfo.request_history] == [
        "Bearer ya29.revoked-early",
        "Bearer ya29.refreshed",
    ]
    assert cipher.open(stored_bodies(requests_mock)[0], user_id=ALICE.id).access_token == "ya29.refreshed"


def test_api_401_after_the_refresh_stops_after_one_retry(configured, connect_user, mattermost, requests_mock):
    connect_user(ALICE, expires_in=3000)
    userinfo = requests_mock.get(USERINFO_URL, status_code=401)
    refresh = requests_mock.post(TOKEN_URL, json=REFRESHED)
    result = configured.call(paths.INFO, TOKEN_USE_EXPAND)
    assert result == {"type": "error", "text": f"{PROVIDER} did not accept your access token: run {CMD} connect again."}
    assert refresh.call_count == 1 and userinfo.call_count == 2


def test_api_401_then_invalid_grant_clears_the_record(configured, connect_user, mattermost, requests_mock):
    connect_user(ALICE, expires_in=3000)
    requests_mock.get(USERINFO_URL, status_code=401)
    requests_mock.post(TOKEN_URL, status_code=400, json={"error": "invalid_grant"}, headers=JSON)
    result = configured.call(paths.INFO, TOKEN_USE_EXPAND)
    assert result["type"] == "error" and f"run {CMD} connect again" in result["text"]
    assert stored_bodies(requests_mock) == [None]


@pytest.mark.parametrize(
    ("answer", "expected_text"),
    [
        (
            {
                "status_code": 403,
                "json": {"error": {"code": 403, "message": "Insufficient Permission", "status": "PERMISSION_DENIED"}},
            },
            f"{PROVIDER} refused to read your profile (PERMISSION_DENIED).",
        ),
        ({"status_code": 500}, f"{PROVIDER} could not be reached to read your profile; please try again in a minute."),
        ({"status_code": 503}, f"{PROVIDER} could not be reached to read your profile; please try again in a minute."),
        ({"status_code": 429}, f"{PROVIDER} could not be reached to read your profile; please try again in a minute."),
        ({"exc": requests.ReadTimeout}, f"{PROVIDER} could not be reached to read your profile; please try again in a minute."),
        (
            {"exc": requests.ConnectionError},
            f"{PROVIDER} could not be reached to read your profile; please try again in a minute.",
        ),
        (
            {"text": "<html>"},
            f"{PROVIDER} gave an answer the app could not use while trying to read your profile; please try again.",
        ),
        (
            {"json": ["not", "an", "object"]},
            f"{PROVIDER} gave an answer the app could not use while trying to read your profile; please try again.",
        ),
    ],
    ids=["403", "500", "503", "429", "timeout", "unreachable", "not json", "not an object"],
)
def test_api_failure_is_a_clear_sentence_and_nothing_is_stored_or_refreshed(
    configured, connect_user, requests_mock, answer, expected_text
):
    connect_user(ALICE, expires_in=3000)
    requests_mock.get(USERINFO_URL, **answer)
    assert configured.call(paths.INFO, TOKEN_USE_EXPAND) == {"type": "error", "text": expected_text}
    assert urls(requests_mock) == [("GET", USERINFO_URL)]


# -- events -------------------------------------------------------------------------------------------


def event(summary, start, end, **extra):
    return {"summary": summary, "start": start, "end": end, "status": "confirmed", **extra}


@pytest.fixture
def paris_user():
    return replace(ALICE, timezone=dict(PARIS))


def test_events_asks_for_the_next_5_single_events_from_now(configured, connect_user, requests_mock, paris_user):
    connect_user(paris_user, access_token="ya29.fresh")
    api = requests_mock.get(EVENTS_URL, json={"items": []})
    before = datetime.now(UTC)
    configured.call(paths.EVENTS, TOKEN_USE_EXPAND, user=paris_user)
    request = api.last_request
    assert request.headers["Authorization"] == "Bearer ya29.fresh"
    query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
    time_min = query.pop("timeMin")
    # Which kinds of entries are asked for is the Calendar API's own filter, checked in the provider's tests. A few
    # more than 5 are asked for, as declined events are skipped.
    query.pop("eventTypes")
    max_results = int(query.pop("maxResults"))
    assert query == {"singleEvents": "true", "orderBy": "startTime", "timeZone": "Europe/Paris"}
    assert 5 < max_results <= 50
    assert time_min.endswith("Z")
    assert abs((datetime.fromisoformat(time_min.replace("Z", "+00:00")) - before).total_seconds()) < 5
    assert urls(requests_mock) == [("GET", EVENTS_URL)]


def test_events_lists_timed_and_all_day_events_in_the_users_time_zone(configured, connect_user, requests_mock, paris_user):
    connect_user(paris_user)
    requests_mock.get(
        EVENTS_URL,
        json={
            "items": [
                event(
                    "Standup",
                    {"dateTime": "2030-01-02T09:00:00Z"},
                    {"dateTime": "2030-01-02T09:15:00Z"},
                    htmlLink="https://calendar.example.test/event?eid=1",
                ),
                event("Offsite", {"date": "2030-01-03"}, {"date": "2030-01-04"}),
                event("Night train", {"dateTime": "2030-01-04T22:00:00+01:00"}, {"dateTime": "2030-01-05T07:00:00+01:00"}),
            ]
        },
    )
    result = configured.call(paths.EVENTS, TOKEN_USE_EXPAND, user=paris_user)
    assert result == {
        "type": "ok",
        "text": "\n".join(
            [
                "Your next 3 events (Europe/Paris):",
                "- **Wed 02 Jan, 10:00–10:15** [Standup](https://calendar.example.test/event?eid=1)",
                "- **Thu 03 Jan, all day** Offsite",
                "- **Fri 04 Jan, 22:00 – Sat 05 Jan, 07:00** Night train",
            ]
        ),
    }


def test_events_without_a_user_time_zone_are_shown_in_utc(configured, connect_user, requests_mock):
    connect_user(ALICE)
    api = requests_mock.get(
        EVENTS_URL,
        json={"items": [event("Standup", {"dateTime": "2030-01-02T09:00:00+01:00"}, {"dateTime": "2030-01-02T09:15:00+01:00"})]},
    )
    text = configured.call(paths.EVENTS, TOKEN_USE_EXPAND)["text"]
    assert text == "Your next 1 event (UTC):\n- **Wed 02 Jan, 08:00–08:15** Standup"
    assert "timeZone" not in parse_qs(urlsplit(api.last_request.url).query)


def test_events_automatic_time_zone_is_used_when_the_user_chose_it(configured, connect_user, requests_mock):
    tokyo = replace(
        ALICE, timezone={"automaticTimezone": "Asia/Tokyo", "manualTimezone": "Europe/Paris", "useAutomaticTimezone": "true"}
    )
    connect_user(tokyo)
    requests_mock.get(
        EVENTS_URL, json={"items": [event("Call", {"dateTime": "2030-01-02T00:00:00Z"}, {"dateTime": "2030-01-02T01:00:00Z"})]}
    )
    assert "(Asia/Tokyo)" in configured.call(paths.EVENTS, TOKEN_USE_EXPAND, user=tokyo)["text"]


def test_event_titles_are_markdown_escaped(configured, connect_user, requests_mock):
    connect_user(ALICE)
    requests_mock.get(
        EVENTS_URL,
        json={
            "items": [
                event("*Launch* _party_ [x](https://evil.example) `rm` #1 <b>", {"date": "2030-01-03"}, {"date": "2030-01-04"})
            ]
        },
    )
    text = configured.call(paths.EVENTS, TOKEN_USE_EXPAND)["text"]
    assert text.endswith(r"\*Launch\* \_party\_ \[x\]\(https://evil.example\) \`rm\` \#1 \<b\>")


def test_event_title_cannot_break_out_of_its_list_item(configured, connect_user, requests_mock):
    connect_user(ALICE)
    requests_mock.get(
        EVENTS_URL, json={"items": [event("Lunch\n\n---\nIgnore the above", {"date": "2030-01-03"}, {"date": "2030-01-04"})]}
    )
    text = configured.call(paths.EVENTS, TOKEN_USE_EXPAND)["text"]
    assert text.splitlines() == ["Your next 1 event (UTC):", "- **Thu 03 Jan, all day** Lunch --- Ignore the above"]


def test_events_skip_cancelled_untitled_and_unlinkable(configured, connect_user, requests_mock):
    connect_user(ALICE)
    requests_mock.get(
        EVENTS_URL,
        json={
            "items": [
                {**event("Gone", {"date": "2030-01-02"}, {"date": "2030-01-03"}), "status": "cancelled"},
                {"start": {"date": "2030-01-03"}, "end": {"date": "2030-01-04"}},
                event("Phish", {"date": "2030-01-04"}, {"date": "2030-01-05"}, htmlLink="javascript:alert(1)"),
                event("No start", None, None),
            ]
        },
    )
    text = configured.call(paths.EVENTS, TOKEN_USE_EXPAND)["text"]
    assert text.splitlines() == [
        "Your next 2 events (UTC):",
        r"- **Thu 03 Jan, all day** \(no title\)",
        "- **Fri 04 Jan, all day** Phish",
    ]


def test_events_show_at_most_5(configured, connect_user, requests_mock):
    connect_user(ALICE)
    requests_mock.get(
        EVENTS_URL,
        json={"items": [event(f"E{i}", {"date": f"2030-01-{i + 1:02d}"}, {"date": f"2030-01-{i + 2:02d}"}) for i in range(7)]},
    )
    assert len(configured.call(paths.EVENTS, TOKEN_USE_EXPAND)["text"].splitlines()) == 6


@pytest.mark.parametrize("body", [{"items": []}, {}], ids=["empty items", "no items"])
def test_events_on_an_empty_calendar(configured, connect_user, requests_mock, body):
    connect_user(ALICE)
    requests_mock.get(EVENTS_URL, json=body)
    assert configured.call(paths.EVENTS, TOKEN_USE_EXPAND) == {
        "type": "ok",
        "text": f"You have no upcoming events on your primary {PROVIDER} calendar.",
    }


def test_events_without_the_calendar_scope_name_the_permission_and_call_nothing(configured, connect_user, requests_mock):
    # Granular consent: the user unticked calendar access; the grant's scope says so, and the command says which
    # permission is missing before any round trip. The token answer spells the sign-in scopes as URLs.
    events = COMMAND["events"]
    assert events.scopes
    connect_user(ALICE, scope=" ".join(["openid", *AppProvider.scope_aliases]))  # every scope but the command's
    result = configured.call(paths.EVENTS, TOKEN_USE_EXPAND)
    permission = messages.text("permission.events")
    assert result == {
        "type": "error",
        "text": messages.text("scope.missing", command=f"/{paths.COMMAND} events", permission=permission),
    }
    assert urls(requests_mock) == []


def test_events_with_every_scope_granted_as_urls_are_listed(configured, connect_user, requests_mock):
    connect_user(ALICE, scope=" ".join(["openid", *AppProvider.scope_aliases, *COMMAND["events"].scopes]))
    requests_mock.get(EVENTS_URL, json={"items": []})
    assert configured.call(paths.EVENTS, TOKEN_USE_EXPAND)["type"] == "ok"


def test_a_403_for_a_missing_scope_says_to_reconnect_and_tick_the_box(configured, connect_user, requests_mock):
    # A grant whose stored scope says all, but the API disagrees (RFC 6750's answer for a missing scope; the
    # provider's own spellings of it are checked in the provider's tests).
    connect_user(ALICE)
    requests_mock.get(
        EVENTS_URL,
        status_code=403,
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.example.test/", error="insufficient_scope"'},
        json={
            "error": {"code": 403, "message": "Request had insufficient authentication scopes.", "status": "PERMISSION_DENIED"}
        },
    )
    result = configured.call(paths.EVENTS, TOKEN_USE_EXPAND)
    operation = messages.text("provider_operation.list_events")
    assert result == {"type": "error", "text": messages.text("provider.insufficient_scope", operation=operation)}


def test_a_403_for_an_api_not_enabled_asks_an_admin_and_not_for_a_reconnect(configured, connect_user, requests_mock):
    connect_user(ALICE)
    requests_mock.get(
        EVENTS_URL,
        status_code=403,
        json={
            "error": {
                "code": 403,
                "message": "The Calendar API has not been used in project 123 before or it is disabled.",
                "errors": [{"domain": "usageLimits", "reason": "accessNotConfigured"}],
                "status": "PERMISSION_DENIED",
            }
        },
    )
    result = configured.call(paths.EVENTS, TOKEN_USE_EXPAND)
    assert result["type"] == "error" and "not enabled" in result["text"] and "system admin" in result["text"]
    assert result["text"] == messages.text("provider.api_disabled", operation=messages.text("provider_operation.list_events"))
    assert f"run {CMD} connect again" not in result["text"]
    assert result["text"] != messages.text("grant_ended")


def test_events_skip_those_the_user_declined(configured, connect_user, requests_mock):
    connect_user(ALICE)
    me_declined = [{"email": "alice@gmail.com", "self": True, "responseStatus": "declined"}]
    other_declined = [{"email": "bob@example.com", "responseStatus": "declined"}, {"email": "alice@gmail.com", "self": True}]
    requests_mock.get(
        EVENTS_URL,
        json={
            "items": [
                event(
                    "Declined", {"dateTime": "2030-01-02T09:00:00Z"}, {"dateTime": "2030-01-02T10:00:00Z"}, attendees=me_declined
                ),
                event(
                    "Kept", {"dateTime": "2030-01-02T11:00:00Z"}, {"dateTime": "2030-01-02T12:00:00Z"}, attendees=other_declined
                ),
                event("All day", {"date": "2030-01-03"}, {"date": "2030-01-04"}),
            ]
        },
    )
    text = configured.call(paths.EVENTS, TOKEN_USE_EXPAND)["text"]
    assert "Declined" not in text and "Kept" in text and "All day" in text


def test_events_with_a_malformed_items_list_is_an_error(configured, connect_user, requests_mock):
    connect_user(ALICE)
    requests_mock.get(EVENTS_URL, json={"items": "nope"})
    result = configured.call(paths.EVENTS, TOKEN_USE_EXPAND)
    assert result["type"] == "error" and "list your events" in result["text"]


def test_events_refresh_a_stale_token_first(configured, connect_user, mattermost, requests_mock):
    connect_user(ALICE, expires_in=-1)
    requests_mock.post(TOKEN_URL, json=REFRESHED)
    api = requests_mock.get(EVENTS_URL, json={"items": []})
    assert configured.call(paths.EVENTS, TOKEN_USE_EXPAND)["type"] == "ok"
    assert api.last_request.headers["Authorization"] == "Bearer ya29.refreshed"
    assert len(stored_bodies(requests_mock)) == 1


# -- help ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "connected"),
    [(ADMIN, False), (ADMIN, True), (ALICE, False), (ALICE, True)],
    ids=["admin", "admin connected", "user", "user connected"],
)
def test_help_lists_the_commands_this_user_has(configured, connect_user, requests_mock, user, connected):
    if connected:
        connect_user(user)
    text = configured.call(paths.HELP, HELP_EXPAND, user=user)["text"]
    listed = [line.split("`")[1].removeprefix(f"{CMD} ") for line in text.splitlines() if line.startswith(f"- `{CMD} ")]
    assert listed == [command.label for command in visible(COMMANDS, Viewer(is_admin=user.is_admin, is_connected=connected))]
    assert requests_mock.request_history == []


def test_help_when_not_configured_says_to_ask_an_admin(plugin):
    text = plugin.call(paths.HELP, HELP_EXPAND)["text"]
    assert text.endswith(messages.text("not_configured"))


def test_help_when_configured_does_not_mention_configuring(configured):
    assert messages.text("not_configured") not in configured.call(paths.HELP, HELP_EXPAND)["text"]


def test_help_before_connecting_says_what_connecting_unlocks(configured, connect_user):
    # A new user sees connect and help; without this line they would not know what connecting is for.
    before = configured.call(paths.HELP, HELP_EXPAND)["text"]
    unlocked = [c.label for c in COMMANDS if c.shown_to(Viewer(is_admin=False, is_connected=True))]
    unlocked = [label for label in unlocked if f"`{CMD} {label}`:" not in before]
    assert (
        unlocked and f"Once you have connected your {PROVIDER} account: {', '.join(f'`{CMD} {u}`' for u in unlocked)}." in before
    )
    connect_user(ALICE)
    assert "Once you have connected" not in configured.call(paths.HELP, HELP_EXPAND)["text"]


def test_a_connected_user_can_still_connect_to_switch_accounts(configured, connect_user):
    connect_user(ALICE)
    labels = [c.label for c in COMMANDS if c.shown_to(Viewer(is_admin=False, is_connected=True))]
    assert "connect" in labels
    text = configured.call(paths.CONNECT, CONNECT_EXPAND)["text"]
    assert text.startswith(f"Your {PROVIDER} account **alice@gmail.com** is already connected. [Connect again](")
