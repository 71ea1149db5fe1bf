"""`/google calendars`: the user's calendars, from a fresh token; the shared token failures are worded once."""

from __future__ import annotations

from tests.conftest import CALENDAR_API, TOKEN_USE_EXPAND, paths


def test_lists_the_calendars_with_the_users_token(plugin, connect_user, requests_mock):
    plugin.configure()
    record = connect_user()
    api = requests_mock.get(
        CALENDAR_API + "/users/me/calendarList", json={"items": [{"summary": "Alice G"}, {"summary": "Holidays"}]}
    )
    assert plugin.call(paths.CALENDARS, TOKEN_USE_EXPAND) == {"type": "ok", "text": "- Alice G\n- Holidays"}
    assert api.last_request.headers["Authorization"] == f"Bearer {record.access_token}"


def test_not_connected_says_to_connect(plugin, requests_mock):
    plugin.configure()
    result = plugin.call(paths.CALENDARS, TOKEN_USE_EXPAND)
    assert result == {"type": "error", "text": "Your Google account is not connected: run `/google connect` first."}
    assert requests_mock.request_history == []
