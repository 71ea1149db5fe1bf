"""Call handlers, one module per capability; each handler is `fn(call, services) -> CallResponse`.

`build_router` registers the calls the plugin makes by itself (at the paths the manifest declares), the
configure form's submit, and the calls of each command of the table: its submit and its fields' lookups.
"""

from __future__ import annotations

from typing import Any

from bindings import Handler
from mattermost_apps import CallRouter, forbidden_call_paths
from mattermost_apps import paths as plugin_paths
from services import Services

from . import command_tree, configure, install, oauth2
from .token_use import scope_checked


def build_router(services: Services) -> CallRouter[Services]:
    manifest = services.manifest
    router = CallRouter[Services]()
    router.add(plugin_paths.PING, install.ping)
    router.add(_declared(manifest, "on_install"), install.on_install)
    router.add(_declared(manifest, "bindings", plugin_paths.BINDINGS), command_tree.bindings)
    router.add(_declared(manifest, "get_oauth2_connect_url", plugin_paths.OAUTH2_CONNECT), oauth2.authorization_url)
    router.add(_declared(manifest, "on_oauth2_complete", plugin_paths.OAUTH2_COMPLETE), oauth2.complete)

    # What a user agent calls: the plugin refuses its own paths from there ("forbidden call path").
    user_calls: list[tuple[str, Handler]] = [(configure.SUBMIT_PATH, configure.configure_submit)]
    user_calls += [(call.path, scope_checked(c, handler)) for c in services.commands for call, handler in c.calls()]
    forbidden = forbidden_call_paths(manifest)
    for path, handler in user_calls:
        if path in forbidden or not path.startswith("/"):
            raise ValueError(f"{path} cannot be a command's call path: the plugin refuses it from users")
        router.add(path, handler)
    return router


def _declared(manifest: dict[str, Any], name: str, default: str | None = None) -> str:
    path = plugin_paths.declared_path(manifest, name, default)
    if not path:
        raise ValueError(f"manifest.json declares no {name} path")
    return path
