"""`events`: the user's next events on their primary calendar, in their Mattermost time zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timezone
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mattermost_apps import CallRequest, CallResponse
from provider import CalendarEvent
from services import Services

from .messages import text
from .token_use import with_token

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


def events(call: CallRequest, services: Services) -> CallResponse:
    time_zone = call.context.acting_user_timezone

    def show(token: str) -> str:
        upcoming = services.calendar.upcoming_events(token, now=datetime.now(UTC), time_zone=time_zone)
        return format_events(upcoming, time_zone=time_zone)

    return with_token(call, services, show)


def format_events(events: list[CalendarEvent], *, time_zone: str | None) -> str:
    """A markdown list, times shown in the user's Mattermost time zone (UTC when unknown)."""
    if not events:
        return text("events.none")
    tz = _zone(time_zone)
    lines = [text("events.header", count=len(events), plural="s" if len(events) != 1 else "", zone=_zone_label(tz))]
    for event in events:
        # One line per event: a newline in a title would end the list item and start free markdown.
        title = _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(event.summary.split()))
        if event.html_link:
            title = f"[{title}]({_link(event.html_link)})"
        lines.append(f"- **{_format_when(event, tz)}** {title}")
    return "\n".join(lines)


def _link(url: str) -> str:
    """A URL as a markdown link destination: what could end it early (a parenthesis, a space, an angle bracket, a
    bracket, a backslash) or break the line, percent-encoded."""
    return quote(url, safe="/:?#@!$&'*+,;=%~-._")


def _format_when(event: CalendarEvent, tz: ZoneInfo | timezone) -> str:
    if not isinstance(event.start, datetime):
        return text("events.all_day", date=f"{event.start:%a %d %b}")
    start = event.start.astimezone(tz)
    when = f"{start:%a %d %b, %H:%M}"
    if isinstance(event.end, datetime):
        end = event.end.astimezone(tz)
        when += f"–{end:%H:%M}" if end.date() == start.date() else f" – {end:%a %d %b, %H:%M}"
    return when


def _zone(name: str | None) -> ZoneInfo | timezone:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
            pass
    return UTC


def _zone_label(tz: ZoneInfo | timezone) -> str:
    return tz.key if isinstance(tz, ZoneInfo) else "UTC"
