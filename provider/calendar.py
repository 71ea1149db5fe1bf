"""Google Calendar API v3: the user's calendars, and the next events on one of them (the primary one by default)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from .errors import ProviderError
from .oauth2 import OAuth2Provider

API_URL = "https://www.googleapis.com/calendar/v3"  # the default of the GOOGLE_API_URL setting
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar.readonly"  # what listing calendars and events needs
CALENDAR_PAGES = 4  # of 250 calendars each; a user has far fewer, and a next-page token that loops stops here


@dataclass(frozen=True)
class Calendar:
    id: str
    summary: str  # the name the user sees: their own for the calendar if they gave it one, else its owner's
    primary: bool


@dataclass(frozen=True)
class CalendarEvent:
    summary: str
    start: datetime | date
    end: datetime | date | None
    html_link: str


class GoogleCalendar:
    def __init__(self, provider: OAuth2Provider, api_url: str) -> None:
        self._provider = provider
        self._api_url = api_url.rstrip("/")

    def calendars(self, access_token: str) -> list[Calendar]:
        """The calendars in the user's list (`calendarList.list`), in the order Google gives them."""
        found: list[Calendar] = []
        params: dict[str, Any] = {"maxResults": 250}
        for _ in range(CALENDAR_PAGES):
            body = self._provider.get_json(
                f"{self._api_url}/users/me/calendarList", access_token, operation="list_calendars", params=params
            )
            items = body.get("items", [])
            if not isinstance(items, list):
                raise ProviderError("bad_response", "list_calendars", "items is not a list")
            found += [calendar for item in items if (calendar := _parse_calendar(item)) is not None]
            page = body.get("nextPageToken")
            if not isinstance(page, str) or not page:
                break
            params["pageToken"] = page
        return found

    def upcoming_events(
        self, access_token: str, *, now: datetime, time_zone: str | None, calendar_id: str = "primary", limit: int = 5
    ) -> list[CalendarEvent]:
        # Only events proper: no working-location, out-of-office, focus-time, birthday or from-Gmail entries. Declined
        # events are skipped here, so a few more are asked for.
        params: dict[str, Any] = {
            "singleEvents": "true",
            "orderBy": "startTime",
            "eventTypes": "default",
            "timeMin": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "maxResults": limit * 4,
        }
        if time_zone:
            params["timeZone"] = time_zone
        url = f"{self._api_url}/calendars/{quote(calendar_id, safe='')}/events"
        body = self._provider.get_json(url, access_token, operation="list_events", params=params)
        items = body.get("items", [])
        if not isinstance(items, list):
            raise ProviderError("bad_response", "list_events", "items is not a list")
        events = [event for item in items if (event := _parse_event(item)) is not None]
        return events[:limit]


def _parse_calendar(item: Any) -> Calendar | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"] or item.get("deleted") is True:
        return None
    names = [item.get(key) for key in ("summaryOverride", "summary")]
    summary = next((name for name in names if isinstance(name, str) and name.strip()), item["id"])
    return Calendar(id=item["id"], summary=summary, primary=item.get("primary") is True)


def _parse_event(item: Any) -> CalendarEvent | None:
    if not isinstance(item, dict) or item.get("status") == "cancelled" or _declined(item):
        return None
    start = _parse_when(item.get("start"))
    if start is None:
        return None
    summary = item.get("summary")
    link = item.get("htmlLink")
    return CalendarEvent(
        summary=summary if isinstance(summary, str) and summary.strip() else "(no title)",
        start=start,
        end=_parse_when(item.get("end")),
        html_link=link if isinstance(link, str) and link.startswith("https://") else "",
    )


def _declined(item: dict[str, Any]) -> bool:
    """Whether the user (the attendee marked `self`) declined the event."""
    attendees = item.get("attendees")
    if not isinstance(attendees, list):
        return False
    return any(isinstance(a, dict) and a.get("self") is True and a.get("responseStatus") == "declined" for a in attendees)


def _parse_when(when: Any) -> datetime | date | None:
    if not isinstance(when, dict):
        return None
    try:
        if isinstance(when.get("dateTime"), str):
            return datetime.fromisoformat(when["dateTime"].replace("Z", "+00:00"))
        if isinstance(when.get("date"), str):
            return date.fromisoformat(when["date"])
    except ValueError:
        return None
    return None
