"""The user's sub-commands: `connect`, `disconnect`, `info`, `events`, `help`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import call_paths as paths
from bindings import sub_commands
from mattermost_apps import CallRequest, CallResponse, CallRouter, MattermostError, error, ok
from provider import ProviderError
from provider.calendar import format_events
from services import Services
from user_tokens import TokenRecord, TokenUnavailable, UnreadableRecord

from . import messages
from .bindings import viewer_of

log = logging.getLogger(__name__)


def connect(call: CallRequest, services: Services) -> CallResponse:
    oauth2 = call.context.oauth2
    if not oauth2.is_configured:
        return error(messages.NOT_CONFIGURED)
    if not oauth2.connect_url:
        return error("The call has no context.oauth2.connect_url (expand oauth2_app: all).")
    try:
        record = services.tokens.load(call)
    except UnreadableRecord:
        record = None
    if record is not None:
        return ok(
            f"Your Google account {_who(record)} is already connected. "
            f"[Connect again]({oauth2.connect_url}) to switch accounts or renew access."
        )
    return ok(f"[Connect your Google account]({oauth2.connect_url}).")


def disconnect(call: CallRequest, services: Services) -> CallResponse:
    try:
        record = services.tokens.load(call)
    except UnreadableRecord:
        record = None
    revoked = False
    if record is not None and call.context.oauth2.client_id:
        oauth2 = call.context.oauth2
        revoked = services.provider.revoke(
            record.refresh_token or record.access_token, client_id=oauth2.client_id, client_secret=oauth2.client_secret
        )
    try:
        services.tokens.clear(call)
    except MattermostError as exc:
        return error(exc.user_message())
    if record is None:
        return ok("Your Google account was not connected; nothing is stored for you now.", refresh_bindings=True)
    text = f"Disconnected your Google account {_who(record)}."
    if not revoked:
        text += " Google did not confirm the revocation: you can remove the app at https://myaccount.google.com/permissions."
    return ok(text, refresh_bindings=True)


def info(call: CallRequest, services: Services) -> CallResponse:
    def show(token: str) -> str:
        identity = services.provider.fetch_identity(token)
        lines = [f"Connected to Google as **{identity.name or identity.email or identity.sub}**."]
        if identity.email:
            lines.append(f"- Email: {identity.email}")
        lines.append(f"- Google account ID: `{identity.sub}`")
        return "\n".join(lines)

    return _with_token(call, services, show)


def events(call: CallRequest, services: Services) -> CallResponse:
    time_zone = call.context.acting_user_timezone

    def show(token: str) -> str:
        upcoming = services.calendar.upcoming_events(token, now=datetime.now(UTC), time_zone=time_zone)
        return format_events(upcoming, time_zone=time_zone)

    return _with_token(call, services, show)


def help_(call: CallRequest, services: Services) -> CallResponse:
    lines = ["**/google** connects your Google account to Mattermost."]
    for binding in sub_commands(viewer_of(call, services)):
        lines.append(f"- `/google {binding['label']}`: {binding['description']}")
    if not call.context.oauth2.is_configured:
        lines.append("")
        lines.append(messages.NOT_CONFIGURED)
    return ok("\n".join(lines))


def _with_token(call: CallRequest, services: Services, use: Callable[[str], str]) -> CallResponse:
    """Run `use(access_token)` with a fresh token; if the API refuses the token, refresh once and retry."""
    try:
        record = services.tokens.usable(call)
        try:
            return ok(use(record.access_token))
        except ProviderError as exc:
            if exc.reason != "unauthorized":
                raise
        # Unexpired but refused: revoked at the provider, or expired early. A refresh tells which.
        record = services.tokens.refresh(call, record)
        return ok(use(record.access_token))
    except TokenUnavailable as exc:
        return error(str(exc))
    except ProviderError as exc:
        log.warning("user %s: %s", call.context.acting_user_id, exc)
        return error(messages.provider_failure(exc))


def _who(record: TokenRecord) -> str:
    identity = record.identity
    return f"**{identity.email or identity.name or identity.sub}**"


def register(router: CallRouter) -> None:
    router.route(paths.CONNECT)(connect)
    router.route(paths.DISCONNECT)(disconnect)
    router.route(paths.INFO)(info)
    router.route(paths.EVENTS)(events)
    router.route(paths.HELP)(help_)
