"""`connect` and `disconnect`: link the user's provider account to Mattermost, or unlink it."""

from __future__ import annotations

from mattermost_apps import CallRequest, CallResponse, MattermostError, error, ok
from provider import RevokeOutcome
from services import Services
from user_tokens import TokenRecord, UnreadableRecord

from .messages import failure, text


def connect_link(call: CallRequest, services: Services) -> CallResponse:
    oauth2 = call.context.oauth2
    if not oauth2.is_configured:
        return error(text("not_configured"))
    if not oauth2.connect_url:
        return error(text("connect.no_connect_url"))
    record = _stored_record(call, services)
    if record is not None:
        return ok(text("connect.already", who=record.identity.account_name, url=oauth2.connect_url))
    return ok(text("connect.link", url=oauth2.connect_url))


def disconnect(call: CallRequest, services: Services) -> CallResponse:
    # Clear first: if that fails (no token in the call, Mattermost down), nothing is revoked and the user is still
    # connected; revoking first would leave a stored record of a dead grant.
    unreadable = False
    try:
        record = services.tokens.load(call)
    except UnreadableRecord:
        record, unreadable = None, True
    try:
        services.tokens.clear(call)
    except MattermostError as exc:
        return error(failure(exc))
    if unreadable:  # nothing to revoke with: say so, and where the user can do it by hand
        sentence = text("disconnect.unreadable")
        if services.provider.manage_access_url:
            sentence += text("disconnect.manage", manage_access_url=services.provider.manage_access_url)
        return ok(sentence, refresh_bindings=True)
    if record is None:
        return ok(text("disconnect.nothing"), refresh_bindings=True)
    oauth2 = call.context.oauth2
    outcome: RevokeOutcome = "unconfirmed"
    if oauth2.client_id:
        outcome = services.provider.revoke_grant(record, client_id=oauth2.client_id, client_secret=oauth2.client_secret)
    sentence = text("disconnect.done", who=record.identity.account_name)
    if outcome != "revoked":
        sentence += text(f"disconnect.{outcome}")
        if services.provider.manage_access_url:
            sentence += text("disconnect.manage", manage_access_url=services.provider.manage_access_url)
    return ok(sentence, refresh_bindings=True)


def _stored_record(call: CallRequest, services: Services) -> TokenRecord | None:
    try:
        return services.tokens.load(call)
    except UnreadableRecord:
        return None
