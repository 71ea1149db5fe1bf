"""Everything that is Google's, in one place: its name, the slash command named after it, its endpoints and
scopes, and the authorization parameters it needs. Another provider is another subclass (docs/adapting.md)."""

from __future__ import annotations

from types import MappingProxyType

from .calendar import CALENDAR_SCOPE
from .oauth2 import OAuth2Provider


class Google(OAuth2Provider):
    """Google speaks the standards the generic client does (RFC 7009 revocation, OpenID Connect userinfo), so it
    overrides no hook."""

    name = "Google"
    command = "google"
    authorize_url = "https://accounts.google.com/o/oauth2/v2/auth"
    token_url = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
    revoke_url = "https://oauth2.googleapis.com/revoke"
    userinfo_url = "https://openidconnect.googleapis.com/v1/userinfo"
    issuer = "https://accounts.google.com"
    issuer_aliases = ("accounts.google.com",)  # Google writes both in ID tokens (OpenID Connect Core 3.1.3.7)
    # Reading events needs only read-only calendar access.
    scopes = ("openid", "email", "profile", CALENDAR_SCOPE)
    # The token answer spells the sign-in scopes as URLs.
    scope_aliases = MappingProxyType(
        {"https://www.googleapis.com/auth/userinfo.email": "email", "https://www.googleapis.com/auth/userinfo.profile": "profile"}
    )
    # Google returns a refresh token only with access_type=offline, and again on a later connect only with
    # prompt=consent; select_account shows the account chooser, so a browser signed in to another Google account does
    # not connect that one silently. include_granted_scopes keeps what the user granted before.
    authorization_params = MappingProxyType(
        {"access_type": "offline", "prompt": "consent select_account", "include_granted_scopes": "true"}
    )
    # Google answers a refresh without a new refresh token: the one it gave stays valid.
    rotates_refresh_tokens = False
    console_url = "https://console.cloud.google.com/apis/credentials"
    manage_access_url = "https://myaccount.google.com/permissions"
