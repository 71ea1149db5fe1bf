"""Running a command with the user's token (fresh, refreshed when stale), every failure worded for the user."""

from __future__ import annotations

import logging
from collections.abc import Callable

from mattermost_apps import CallRequest, CallResponse, error, ok
from provider import ProviderError
from services import Services
from user_tokens import TokenUnavailable

from .messages import failure

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
