"""A tiny stand-in for the Calendar API v3 `events.list`, for the end-to-end tests and `make demo`.

It accepts an access token only if the OAuth2 provider's userinfo endpoint does, so a revoked or expired
token is refused exactly as the Calendar API would refuse it (401). As on a real calendar, the first entries are a
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


def create_calendar_stub(userinfo_url: str) -> Flask:
    app = Flask(__name__)
    http = requests.Session()

    @app.get("/calendars/primary/events")
    def list_events() -> ResponseReturnValue:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return _api_error(401, "UNAUTHENTICATED")
        check = http.get(userinfo_url, headers={"Authorization": auth}, timeout=5)
        if check.status_code != 200:
            return _api_error(401, "UNAUTHENTICATED")
        if request.args.get("singleEvents") != "true" or request.args.get("orderBy") != "startTime":
            return _api_error(400, "INVALID_ARGUMENT")
        now = datetime.now(UTC).replace(microsecond=0)
        email = check.json().get("email", "")
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
        return jsonify(kind="calendar#events", summary=check.json().get("email", "primary"), items=items[:limit])

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
