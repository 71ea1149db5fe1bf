"""`help`: what the user can run now, from the command table."""

from __future__ import annotations

from dataclasses import replace

from bindings import visible
from mattermost_apps import CallRequest, CallResponse, ok
from provider import AppProvider
from services import Services

from .command_tree import viewer_of
from .messages import text


def show_help(call: CallRequest, services: Services) -> CallResponse:
    viewer = viewer_of(call, services)
    shown = visible(services.commands, viewer)
    lines = [text("help.intro")]
    lines += [text("help.line", label=command.label, description=command.description) for command in shown]
    if not viewer.is_connected:
        # What connecting unlocks, so a new user knows why to connect.
        unlocked = [c for c in visible(services.commands, replace(viewer, is_connected=True)) if c not in shown]
        if unlocked:
            commands = ", ".join(f"`/{AppProvider.command} {c.label}`" for c in unlocked)
            lines += ["", text("help.once_connected", commands=commands)]
    if not call.context.oauth2.is_configured:
        lines += ["", text("not_configured")]
    return ok("\n".join(lines))
