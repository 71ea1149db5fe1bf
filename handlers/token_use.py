"""Running a command with the user's token (fresh, refreshed when stale), every failure worded for the user."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bindings import Command
from mattermost_apps import CallRequest, CallResponse, error, ok
from provider import AppProvider, ProviderError
from services import Services
from user_tokens import TokenUnavailable, UnreadableRecord

from .messages import failure, permission, text

log = logging.getLogger(__name__)


def with_token(call: CallRequest, services: Services, use: Callable[[str], str]) -> CallResponse:
    """Answer `use(access_token)`, the text of an `ok` response."""
    try:
        return ok(services.tokens.use(call, lambda record: use(record.access_token)))
    except TokenUnavailable as exc:
        return error(failure(exc))
    except ProviderError as exc:
        log.warning("user %s: %s", call.context.acting_user_id, exc)
        return error(failure(exc))


def scope_checked(command: Command) -> Callable[[CallRequest, Any], CallResponse]:
    """`command`'s handler, answering first, without a round trip, when the user's grant lacks a scope it needs (the
    user unticked it on the consent screen). Not connected, or unreadable: the handler says so."""
    if not command.scopes:
        return command.handler

    def handler(call: CallRequest, services: Services) -> CallResponse:
        try:
            record = services.tokens.load(call)
        except UnreadableRecord:
            record = None
        if record is not None and (missing := services.provider.missing_scopes(record.scope, command.scopes)):
            name = f"/{AppProvider.command} {command.label}"
            return error(text("scope.missing", command=name, permission=permission(command.label, missing)))
        return command.handler(call, services)

    return handler
