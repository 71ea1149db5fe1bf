"""`calendars`: the calendars of the user's Google account, one line each."""

from __future__ import annotations

from mattermost_apps import CallRequest, CallResponse
from services import Services

from .token_use import with_token


def calendars(call: CallRequest, services: Services) -> CallResponse:
    def show(token: str) -> str:
        url = services.settings.google_api_url.rstrip("/") + "/users/me/calendarList"
        body = services.provider.get_json(url, token, operation="list_calendars")
        items = body.get("items") if isinstance(body.get("items"), list) else []
        return "\n".join(
            f"- {item['summary']}" for item in items if isinstance(item, dict) and isinstance(item.get("summary"), str)
        )

    return with_token(call, services, show)
