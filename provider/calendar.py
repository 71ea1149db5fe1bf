"""Google Calendar API v3: the user's next events on the primary calendar, as a markdown list."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ProviderError
from .oauth2 import OAuth2Provider

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


@dataclass(frozen=True)
class CalendarEvent:
    summary: str
    start: datetime | date
    end: datetime | date | None
    html_link: str

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, datetime)


class GoogleCalendar:
    def __init__(self, provider: OAuth2Provider, api_url: str) -> None:
        self._provider = provider
        self._api_url = api_url.rstrip("/")

    def upcoming_events(self, access_token: str, *, now: datetime, time_zone: str | None, limit: int = 5) -> list[CalendarEvent]:
        params: dict[str, Any] = {
            "singleEvents": "true",
            "orderBy": "startTime",
            "timeMin": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "maxResults": limit,
        }
        if time_zone:
            params["timeZone"] = time_zone
        body = self._provider.get_json(
            f"{self._api_url}/calendars/primary/events", access_token, operation="list your events", params=params
        )
        items = body.get("items", [])
        if not isinstance(items, list):
            raise ProviderError("bad_response", "list your events", "items is not a list")
        events = [event for item in items if (event := _parse_event(item)) is not None]
        return events[:limit]


def _parse_event(item: Any) -> CalendarEvent | None:
    if not isinstance(item, dict) or item.get("status") == "cancelled":
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


def format_events(events: list[CalendarEvent], *, time_zone: str | None) -> str:
    """A markdown list, times shown in the user's Mattermost time zone (UTC when unknown)."""
    if not events:
        return "You have no upcoming events on your primary Google calendar."
    tz = _zone(time_zone)
    lines = [f"Your next {len(events)} event{'s' if len(events) != 1 else ''} ({_zone_label(tz)}):"]
    for event in events:
        # One line per event: a newline in a title would end the list item and start free markdown.
        title = _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(event.summary.split()))
        if event.html_link:
            title = f"[{title}]({event.html_link})"
        lines.append(f"- **{_format_when(event, tz)}** {title}")
    return "\n".join(lines)


def _format_when(event: CalendarEvent, tz: ZoneInfo | timezone) -> str:
    if not isinstance(event.start, datetime):
        return f"{event.start:%a %d %b}, all day"
    start = event.start.astimezone(tz)
    text = f"{start:%a %d %b, %H:%M}"
    if isinstance(event.end, datetime):
        end = event.end.astimezone(tz)
        text += f"–{end:%H:%M}" if end.date() == start.date() else f" – {end:%a %d %b, %H:%M}"
    return text


def _zone(name: str | None) -> ZoneInfo | timezone:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
            pass
    return UTC


def _zone_label(tz: ZoneInfo | timezone) -> str:
    return tz.key if isinstance(tz, ZoneInfo) else "UTC"
