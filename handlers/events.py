"""`events`: the user's next events on one of their calendars (the primary one unless `--calendar` names another),
in their Mattermost time zone; and the lookup that offers their calendars as they type one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timezone
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bindings import REST_FIELD
from mattermost_apps import CallRequest, CallResponse, Option, error, lookup, ok
from provider import Calendar, CalendarEvent
from services import Services

from .messages import quoted, text
from .token_use import uses_token

CALENDAR = "calendar"  # the field, and so the flag: --calendar

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


@uses_token
def events(call: CallRequest, services: Services, token: str) -> CallResponse:
    time_zone = call.context.acting_user_timezone
    calendar: Calendar | None = None  # the primary one
    # Typed on the command line, the calendar arrives as its text; picked from the lookup or in a modal, as its id.
    if wanted := call.value(CALENDAR):
        calendars = services.calendar.calendars(token)
        matches = matching(calendars, wanted)
        if len(matches) != 1:
            return error(no_one_calendar(calendars, wanted, call.value(REST_FIELD), count=len(matches)))
        calendar = matches[0]
    upcoming = services.calendar.upcoming_events(
        token, now=datetime.now(UTC), time_zone=time_zone, calendar_id=calendar.id if calendar else "primary"
    )
    return ok(format_events(upcoming, time_zone=time_zone, calendar=calendar.summary if calendar else ""))


@uses_token
def calendar_choices(call: CallRequest, services: Services, token: str) -> CallResponse:
    """The lookup of the calendar field: the user's calendars whose name holds what they typed (or whose id starts with
    it), the primary one first, then by name. Picking one puts its id on the command line."""
    typed = call.query.strip().casefold()
    found = [c for c in services.calendar.calendars(token) if typed in c.summary.casefold() or c.id.casefold().startswith(typed)]
    found.sort(key=lambda c: (not c.primary, c.summary.casefold()))
    return lookup(Option(c.summary, c.id) for c in found)


def matching(calendars: list[Calendar], wanted: str) -> list[Calendar]:
    """The calendar whose id is `wanted`, or else those named `wanted` (ignoring case)."""
    by_id = [c for c in calendars if c.id == wanted]
    return by_id or [c for c in calendars if c.summary.casefold() == wanted.casefold()]


def no_one_calendar(calendars: list[Calendar], wanted: str, rest: str, *, count: int) -> str:
    """Why `wanted` names no one calendar, in plain text (an error's), the name quoted."""
    if count > 1:
        return text("events.ambiguous_calendar", calendar=quoted(wanted), count=count)
    sentence = text("events.unknown_calendar", calendar=quoted(wanted))
    # `--calendar Team offsite`: the flag took one word and the rest of the line the others. Say how to quote a name
    # that is really there (a name with a `"` in it cannot be typed between them).
    spaced = f"{wanted} {rest}"
    if rest and '"' not in spaced and matching(calendars, spaced):
        sentence += text("events.quote_the_name", name=spaced)
    return sentence


def format_events(events: list[CalendarEvent], *, time_zone: str | None, calendar: str = "") -> str:
    """A markdown list, times shown in the user's Mattermost time zone (UTC when unknown); `calendar` names the
    calendar when it is not the primary one."""
    if not events:
        return text("events.none_on", calendar=_escaped(calendar)) if calendar else text("events.none")
    tz = _zone(time_zone)
    plural = "s" if len(events) != 1 else ""
    header = (
        text("events.header_on", count=len(events), plural=plural, zone=_zone_label(tz), calendar=_escaped(calendar))
        if calendar
        else text("events.header", count=len(events), plural=plural, zone=_zone_label(tz))
    )
    lines = [header]
    for event in events:
        title = _escaped(event.summary)
        if event.html_link:
            title = f"[{title}]({_link(event.html_link)})"
        lines.append(f"- **{_format_when(event, tz)}** {title}")
    return "\n".join(lines)


def _link(url: str) -> str:
    """A URL as a markdown link destination: what could end it early (a parenthesis, a space, an angle bracket, a
    bracket, a backslash) or break the line, percent-encoded."""
    return quote(url, safe="/:?#@!$&'*+,;=%~-._")


def _escaped(name: str) -> str:
    """A name shown in markdown as it is: on one line (a newline in a list item would start free markdown), markup
    characters escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(name.split()))


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
