"""The bindings call: the command tree for the acting user (admin? connected?)."""

from __future__ import annotations

from bindings import Command, Viewer, command_bindings
from mattermost_apps import CallRequest, CallResponse, ok
from provider import AppProvider
from services import Services

from .messages import text


def viewer_of(call: CallRequest, services: Services) -> Viewer:
    return Viewer(is_admin=call.context.is_system_admin, is_connected=services.tokens.is_connected(call))


def bindings(call: CallRequest, services: Services) -> CallResponse:
    tree = command_bindings(
        services.commands,
        viewer_of(call, services),
        trigger=AppProvider.command,
        description=text("command.description"),
        icon=services.manifest["icon"],
        not_yet=not_yet,
        rest_description=text("binding.rest"),
    )
    return ok(data=tree)


def not_yet(command: Command, unlocked_by: str) -> str:
    """The description of a sub-command the user cannot use yet: what to do first, then what it does."""
    return text(f"binding.needs_{unlocked_by}", description=command.description)
