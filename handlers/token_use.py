"""Handlers that use the user's token: `@uses_token` hands one a fresh access token (refreshed when stale), and words
every failure for the user; `scope_checked` answers first when the user's grant lacks a scope the command needs."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from bindings import Command, Handler
from mattermost_apps import CallRequest, CallResponse, error
from provider import AppProvider, ProviderError
from services import Services
from user_tokens import TokenUnavailable, UnreadableRecord

from .messages import failure, permission, text

log = logging.getLogger(__name__)

TokenHandler = Callable[[CallRequest, Services, str], CallResponse]


def uses_token(handler: TokenHandler) -> Callable[[CallRequest, Services], CallResponse]:
    """Decorator, in the manner of Flask's `login_required`: the handler gets the user's access token as a third
    argument and answers whatever it likes (a text, a lookup's items, a form). Not connected, or a grant that ended:
    the user reads why, and the handler does not run. A provider error the handler raises is worded for the user too.

        @uses_token
        def info(call: CallRequest, services: Services, token: str) -> CallResponse:
            return ok(services.provider.userinfo(token).email)

    If the provider refuses the token although it has not expired, it is refreshed and the handler runs once more:
    a handler only reads from the provider."""

    @functools.wraps(handler)
    def decorated(call: CallRequest, services: Services) -> CallResponse:
        try:
            return services.tokens.use(call, lambda record: handler(call, services, record.access_token))
        except TokenUnavailable as exc:
            return error(failure(exc))
        except ProviderError as exc:
            log.warning("user %s: %s", call.context.acting_user_id, exc)
            return error(failure(exc))

    return decorated


def scope_checked(command: Command, handler: Handler) -> Handler:
    """`handler` (one of `command`'s calls), answering first, without a round trip, when the user's grant lacks a scope
    the command needs (the user unticked it on the consent screen). Not connected, or unreadable: the handler says so."""
    if not command.scopes:
        return handler

    def checked(call: CallRequest, services: Services) -> CallResponse:
        try:
            record = services.tokens.load(call)
        except UnreadableRecord:
            record = None
        if record is not None and (missing := services.provider.missing_scopes(record.scope, command.scopes)):
            name = f"/{AppProvider.command} {command.label}"
            return error(text("scope.missing", command=name, permission=permission(command.label, missing)))
        return handler(call, services)

    return checked
