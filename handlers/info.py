"""`info`: the provider account the user connected."""

from __future__ import annotations

from mattermost_apps import CallRequest, CallResponse, ok
from services import Services

from .messages import text
from .token_use import uses_token


@uses_token
def info(call: CallRequest, services: Services, token: str) -> CallResponse:
    identity = services.provider.userinfo(token)
    # The account (its email, as the provider's account chooser shows it), then the person's name.
    who = identity.account_name
    name = f" ({identity.name})" if identity.name and identity.name != who else ""
    return ok("\n".join([text("info.connected_as", who=who, name=name), text("info.account_id", sub=identity.sub)]))
