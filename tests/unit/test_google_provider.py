"""Google, the provider this template ships (provider/google.py, provider/calendar.py): its endpoints, its scopes,
the authorization parameters it needs, and its Calendar API. These are the only tests that name Google; every other
test reads the provider's name and command from `provider.Provider` and the app id from manifest.json, so renaming
the app or switching provider leaves them as they are (a switch deletes this file with provider/google.py)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from provider import ProviderError, calendar
from provider.google import Google


def google() -> Google:
    return Google(
        authorize_url=Google.authorize_url,
        token_url=Google.token_url,
        revoke_url=Google.revoke_url,
        userinfo_url=Google.userinfo_url,
        scopes=Google.scopes,
        session=requests.Session(),
        timeout=2,
        issuer=Google.issuer,
    )


def test_googles_endpoints_and_issuer():
    assert Google.authorize_url == "https://accounts.google.com/o/oauth2/v2/auth"
    assert Google.token_url == "https://oauth2.googleapis.com/token"
    assert Google.revoke_url == "https://oauth2.googleapis.com/revoke"
    assert Google.userinfo_url == "https://openidconnect.googleapis.com/v1/userinfo"
    assert Google.issuer == "https://accounts.google.com"
    assert Google.rotates_refresh_tokens is False  # Google keeps one refresh token per grant
    assert Google.console_url == "https://console.cloud.google.com/apis/credentials"
    assert Google.manage_access_url == "https://myaccount.google.com/permissions"


def test_google_is_asked_for_an_identity_and_read_only_calendar_access():
    assert Google.scopes == ("openid", "email", "profile", "https://www.googleapis.com/auth/calendar.readonly")


def test_the_authorization_url_asks_google_for_a_refresh_token_on_every_connect():
    url = google().authorization_url(client_id="id", redirect_uri="https://mm.test/complete", state="s", code_challenge="c")
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query, strict_parsing=True).items()}
    assert url.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    assert query["scope"] == "openid email profile https://www.googleapis.com/auth/calendar.readonly"
    # offline + consent: a refresh token on every connect (gcal omitted prompt=consent, so a reconnect got none and
    # died an hour later); select_account: the account chooser, so a shared browser does not pick the account;
    # include_granted_scopes keeps what the user granted before.
    assert query["access_type"] == "offline"
    assert query["prompt"] == "consent select_account"
    assert query["include_granted_scopes"] == "true"


def test_events_are_read_from_the_google_calendar_api():
    assert calendar.API_URL == "https://www.googleapis.com/calendar/v3"


def googles_403(reason: str, detail: str, **headers: str) -> dict:
    """A 403 as Google's APIs answer it: the reason in `errors[]` and again in `details[]`."""
    return {
        "status_code": 403,
        "headers": headers,
        "json": {
            "error": {
                "code": 403,
                "status": "PERMISSION_DENIED",
                "errors": [{"domain": "global", "reason": reason}],
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": detail}],
            }
        },
    }


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (
            googles_403(
                "insufficientPermissions",
                "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                **{"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="insufficient_scope"'},
            ),
            "insufficient_scope",
        ),
        (googles_403("insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"), "insufficient_scope"),
        (googles_403("accessNotConfigured", "SERVICE_DISABLED"), "api_disabled"),
    ],
    ids=["scope missing", "scope missing, no header", "Calendar API not enabled"],
)
def test_googles_403_answers_say_whether_a_scope_is_missing_or_the_api_is_off(requests_mock, answer, reason):
    requests_mock.get(calendar.API_URL + "/calendars/primary/events", **answer)
    with pytest.raises(ProviderError) as raised:
        google().get_json(calendar.API_URL + "/calendars/primary/events", "ya29.a", operation="list_events")
    assert raised.value.reason == reason
