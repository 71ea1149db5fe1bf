"""A tiny stand-in for the Calendar API v3 `calendarList.list` and `events.list`, for the end-to-end tests and
`make demo`.

It accepts an access token only if the OAuth2 provider's userinfo endpoint does, so a revoked or expired
token is refused exactly as the Calendar API would refuse it (401). Every user has their primary calendar (its id is
their email) and the calendars of `CALENDARS`. As on a real calendar, the primary one's first entries are a
working-location entry (left out when `eventTypes=default` is asked for, as the Calendar API does) and an event the
user declined (which the Calendar API lists; skipping it is the caller's job).

    python -m tests.e2e.calendar_stub --port 9100 --userinfo-url http://127.0.0.1:9000/me
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.serving import make_server

EVENT_TITLES = ("Design review", "Team lunch", "1:1 with Bob")
WORKING_LOCATION_TITLE = "Home"
DECLINED_TITLE = "Declined sync"
# The user's other calendars, as the Calendar API names them (an id with a `#` in it, as its holiday calendars have), and
# the events on each.
CALENDARS = (
    {"id": "c_0f1e2d3c4b5a@group.calendar.example.test", "summary": "Team offsite", "events": ("Offsite: kickoff",)},
    {"id": "c_9a8b7c6d5e4f@group.calendar.example.test", "summary": "Work", "events": ("Sprint planning", "Release review")},
    {"id": "en.usa#holiday@group.v.calendar.example.test", "summary": "Holidays in United States", "events": ("Holiday",)},
)


def create_calendar_stub(userinfo_url: str) -> Flask:
    app = Flask(__name__)
    http = requests.Session()

    def user_email() -> str | None:
        """The email of the token's user, or None when the provider does not accept the token."""
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        check = http.get(userinfo_url, headers={"Authorization": auth}, timeout=5)
        return str(check.json().get("email", "")) if check.status_code == 200 else None

    @app.get("/users/me/calendarList")
    def calendar_list() -> ResponseReturnValue:
        email = user_email()
        if email is None:
            return _api_error(401, "UNAUTHENTICATED")
        primary = {"kind": "calendar#calendarListEntry", "id": email, "summary": email, "primary": True, "accessRole": "owner"}
        others = [
            {"kind": "calendar#calendarListEntry", "id": c["id"], "summary": c["summary"], "accessRole": "reader"}
            for c in CALENDARS
        ]
        return jsonify(kind="calendar#calendarList", items=[*others, primary])  # the API promises no order

    @app.get("/calendars/<calendar_id>/events")
    def list_events(calendar_id: str) -> ResponseReturnValue:
        email = user_email()
        if email is None:
            return _api_error(401, "UNAUTHENTICATED")
        if request.args.get("singleEvents") != "true" or request.args.get("orderBy") != "startTime":
            return _api_error(400, "INVALID_ARGUMENT")
        now = datetime.now(UTC).replace(microsecond=0)
        if calendar_id not in ("primary", email):
            calendar = next((c for c in CALENDARS if c["id"] == calendar_id), None)
            if calendar is None:
                return _api_error(404, "NOT_FOUND")
            titles = calendar["events"]
            items = [_event(i, title, now + timedelta(days=i, hours=2)) for i, title in enumerate(titles)]
            return jsonify(kind="calendar#events", summary=calendar["summary"], items=items)
        items = [
            _event(0, WORKING_LOCATION_TITLE, now + timedelta(minutes=10), eventType="workingLocation"),
            _event(
                1,
                DECLINED_TITLE,
                now + timedelta(minutes=20),
                attendees=[{"email": email, "self": True, "responseStatus": "declined"}],
            ),
        ]
        if "default" in request.args.getlist("eventTypes"):
            items = [item for item in items if item["eventType"] == "default"]
        items += [_event(i + 2, title, now + timedelta(days=i, hours=1)) for i, title in enumerate(EVENT_TITLES)]
        limit = request.args.get("maxResults", type=int) or len(items)
        return jsonify(kind="calendar#events", summary=email, items=items[:limit])

    return app


def _event(index: int, title: str, start: datetime, *, eventType: str = "default", **extra: Any) -> dict[str, Any]:  # noqa: N803 - the API's name
    return {
        "id": f"event{index}",
        "status": "confirmed",
        "eventType": eventType,
        **extra,
        "summary": title,
        "htmlLink": f"https://calendar.example.test/event?eid={index}",
        "start": {"dateTime": start.isoformat().replace("+00:00", "Z")},
        "end": {"dateTime": (start + timedelta(minutes=30)).isoformat().replace("+00:00", "Z")},
    }


def _api_error(status: int, reason: str) -> ResponseReturnValue:
    return jsonify(error={"code": status, "message": reason.lower(), "status": reason}), status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--userinfo-url", required=True)
    args = parser.parse_args()
    server = make_server(args.host, args.port, create_calendar_stub(args.userinfo_url), threaded=True)
    print(f"calendar stub listening http://{args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
