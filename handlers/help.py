"""`help`: what the user can run now, from the command table."""

from __future__ import annotations

from bindings import visible
from mattermost_apps import CallRequest, CallResponse, ok
from services import Services

from .bindings import viewer_of
from .messages import text


def help_(call: CallRequest, services: Services) -> CallResponse:
    lines = [text("help.intro")]
    for command in visible(services.commands, viewer_of(call, services)):
        lines.append(text("help.line", label=command.label, description=command.description))
    if not call.context.oauth2.is_configured:
        lines += ["", text("not_configured")]
    return ok("\n".join(lines))
