"""`info`: the provider account the user connected."""

from __future__ import annotations

from mattermost_apps import CallRequest, CallResponse
from services import Services

from .messages import text
from .token_use import with_token


def info(call: CallRequest, services: Services) -> CallResponse:
    def show(token: str) -> str:
        identity = services.provider.userinfo(token)
        lines = [text("info.connected_as", who=identity.name or identity.email or identity.sub)]
        if identity.email:
            lines.append(text("info.email", email=identity.email))
        lines.append(text("info.account_id", sub=identity.sub))
        return "\n".join(lines)

    return with_token(call, services, show)
