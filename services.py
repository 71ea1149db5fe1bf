"""The app's collaborators, built once from the settings and handed to every call handler."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mattermost_apps import ClientFactory, new_session
from provider import AppProvider, GoogleCalendar, OAuth2Provider
from settings import Settings
from user_tokens import HostLock, RedisLock, RefreshLock, TokenCipher, UserTokens

if TYPE_CHECKING:
    from bindings import Command

MANIFEST_TEMPLATE = Path(__file__).resolve().parent / "manifest.json"
USER_AGENT = "mattermost-app-" + json.loads(MANIFEST_TEMPLATE.read_text(encoding="utf-8"))["app_id"]


@dataclass(frozen=True)
class Services:
    settings: Settings
    mattermost: ClientFactory
    provider: OAuth2Provider
    calendar: GoogleCalendar
    tokens: UserTokens
    manifest: dict[str, Any]
    commands: tuple[Command, ...]

    @classmethod
    def build(cls, settings: Settings, commands: Sequence[Command]) -> Services:
        http = new_session(user_agent=USER_AGENT)
        provider = AppProvider(
            authorize_url=settings.oauth2_authorize_url,
            token_url=settings.oauth2_token_url,
            revoke_url=settings.oauth2_revoke_url,
            userinfo_url=settings.oauth2_userinfo_url,
            issuer=settings.oauth2_issuer,
            rotates_refresh_tokens=settings.oauth2_rotates_refresh_tokens,
            scopes=settings.oauth2_scopes,
            session=http,
            timeout=settings.http_timeout,
        )
        mattermost = ClientFactory(http, settings.http_timeout, settings.mattermost_site_url, pin_file=settings.site_url_file)
        # A holder keeps the lock for its call at most: a Redis key expires by then.
        lock: RefreshLock = (
            RedisLock(settings.redis_url, ttl=settings.call_deadline, timeout=min(settings.http_timeout, 2.0))
            if settings.redis_url
            else HostLock()
        )
        return cls(
            settings=settings,
            mattermost=mattermost,
            provider=provider,
            calendar=GoogleCalendar(provider, settings.google_api_url),
            tokens=UserTokens(
                provider=provider, cipher=TokenCipher(settings.token_keys), client_for=mattermost.as_acting_user, lock=lock
            ),
            manifest=render_manifest(settings),
            commands=tuple(commands),
        )


def render_manifest(settings: Settings) -> dict[str, Any]:
    """manifest.json with the deployment's URLs filled in."""
    manifest = json.loads(MANIFEST_TEMPLATE.read_text(encoding="utf-8"))
    manifest["http"]["root_url"] = settings.manifest_root_url
    manifest["homepage_url"] = settings.manifest_root_url + "/"
    return manifest
