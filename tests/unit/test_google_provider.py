"""Google, the provider this template ships (provider/google.py, provider/calendar.py): its endpoints, its scopes,
the authorization parameters it needs, and its Calendar API. These are the only tests that name Google; every other
test reads the provider's name and command from `provider.AppProvider` and the app id from manifest.json, so renaming
the app or switching provider leaves them as they are (a switch deletes this file with provider/google.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from provider import ProviderError, TokenGrant, calendar
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


def test_both_of_googles_issuer_spellings_are_accepted_in_an_id_token(requests_mock):
    # Google writes `iss` with and without the scheme (OpenID Connect Core 3.1.3.7); both are its own.
    assert Google.issuer_aliases == ("accounts.google.com",)
    for iss in ("https://accounts.google.com", "accounts.google.com"):
        claims = {"iss": iss, "aud": "id", "exp": int(time.time()) + 600, "sub": "1087", "email": "a@gmail.com"}
        grant = TokenGrant("ya29.a", None, None, "openid", "Bearer", jwt.encode(claims, "a-key-nobody-checks-0123456789abcdef"))
        assert google().identity(grant, client_id="id").sub == "1087"
    assert requests_mock.request_history == []  # no userinfo round trip: the ID token was used


GRANTED = "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile"


def test_googles_url_spellings_of_the_sign_in_scopes_are_read_as_the_scopes_asked_for():
    # Google's token answer says `https://www.googleapis.com/auth/userinfo.email` for `email`, and so on.
    everything = f"{GRANTED} https://www.googleapis.com/auth/calendar.readonly"
    assert google().granted_scopes(everything) == frozenset(Google.scopes)
    assert google().missing_scopes(everything, [calendar.CALENDAR_SCOPE]) == ()
    # The user unticked calendar access on Google's consent screen.
    assert google().missing_scopes(GRANTED, [calendar.CALENDAR_SCOPE]) == (calendar.CALENDAR_SCOPE,)


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


def test_the_calendar_api_is_asked_for_default_events_only(requests_mock):
    # Without eventTypes, working-location, out-of-office, focus-time, birthday and from-Gmail entries crowd the
    # user's events out of the first five.
    api = requests_mock.get(calendar.API_URL + "/calendars/primary/events", json={"items": []})
    calendar.GoogleCalendar(google(), calendar.API_URL).upcoming_events("ya29.a", now=datetime.now(UTC), time_zone=None)
    assert parse_qs(urlsplit(api.last_request.url).query)["eventTypes"] == ["default"]
