"""The app's collaborators, built once from the settings and handed to every call handler."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from app_keys import derive_fernet_key, derive_key
from mattermost_apps import AppsClient, CallRequest
from mattermost_apps.http import new_session
from provider import GoogleCalendar, OAuth2Provider
from settings import Settings
from user_tokens import TokenCipher, UserTokens

MANIFEST_TEMPLATE = Path(__file__).resolve().parent / "manifest.json"


@dataclass(frozen=True)
class MattermostClients:
    """Builds an `AppsClient` for a call, with the app's session, timeout and site-URL override."""

    http: requests.Session
    timeout: float
    site_url: str | None

    def as_acting_user(self, call: CallRequest) -> AppsClient:
        return AppsClient.as_acting_user(call.context, session=self.http, timeout=self.timeout, site_url=self.site_url)

    def as_bot(self, call: CallRequest) -> AppsClient:
        return AppsClient.as_bot(call.context, session=self.http, timeout=self.timeout, site_url=self.site_url)


@dataclass(frozen=True)
class Services:
    settings: Settings
    http: requests.Session
    mattermost: MattermostClients
    provider: OAuth2Provider
    calendar: GoogleCalendar
    tokens: UserTokens
    pkce_key: bytes
    manifest: dict[str, Any]

    @classmethod
    def build(cls, settings: Settings, *, http: requests.Session | None = None) -> Services:
        http = http or new_session()
        provider = OAuth2Provider(
            authorize_url=settings.oauth2_authorize_url,
            token_url=settings.oauth2_token_url,
            revoke_url=settings.oauth2_revoke_url,
            userinfo_url=settings.oauth2_userinfo_url,
            scopes=settings.oauth2_scopes,
            session=http,
            timeout=settings.http_timeout,
        )
        cipher = TokenCipher(settings.token_encryption_keys or (derive_fernet_key(settings.app_secret),))
        mattermost = MattermostClients(http, settings.http_timeout, settings.mattermost_site_url)
        return cls(
            settings=settings,
            http=http,
            mattermost=mattermost,
            provider=provider,
            calendar=GoogleCalendar(provider, settings.google_api_url),
            tokens=UserTokens(provider=provider, cipher=cipher, client_for=mattermost.as_acting_user),
            pkce_key=derive_key(settings.app_secret, "pkce"),
            manifest=render_manifest(settings),
        )


def render_manifest(settings: Settings) -> dict[str, Any]:
    """manifest.json with the deployment's URLs filled in."""
    manifest = json.loads(MANIFEST_TEMPLATE.read_text(encoding="utf-8"))
    manifest["http"]["root_url"] = settings.manifest_root_url
    manifest["homepage_url"] = settings.manifest_root_url + "/"
    return manifest
