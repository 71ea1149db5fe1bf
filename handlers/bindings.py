"""`POST /bindings`: the command tree for the acting user (admin? client configured? connected?)."""

from __future__ import annotations

import call_paths as paths
from bindings import Viewer, command_bindings
from mattermost_apps import CallRequest, CallResponse, CallRouter, ok
from services import Services


def viewer_of(call: CallRequest, services: Services) -> Viewer:
    return Viewer(
        is_admin=call.context.is_system_admin,
        is_configured=call.context.oauth2.is_configured,
        is_connected=services.tokens.is_connected(call),
    )


def bindings(call: CallRequest, services: Services) -> CallResponse:
    return ok(data=command_bindings(viewer_of(call, services)))


def register(router: CallRouter) -> None:
    router.route(paths.BINDINGS)(bindings)
