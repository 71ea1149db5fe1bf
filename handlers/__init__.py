"""Call handlers, one module per capability. Each handler is `fn(call, services) -> CallResponse`."""

from __future__ import annotations

from mattermost_apps import CallRouter

from . import bindings, commands, configure, install, oauth2


def build_router() -> CallRouter:
    router = CallRouter()
    for module in (install, bindings, configure, oauth2, commands):
        module.register(router)
    return router


__all__ = ["build_router", "install"]
