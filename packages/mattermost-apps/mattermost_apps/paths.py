"""The call paths the Apps plugin (v1.2.2) calls by itself, and the ones it refuses from a user agent.

Defaults are `apps/manifest.go`'s; the refusal is `checkForForbiddenPath` in `server/proxy/invoke_call.go`:
a binding or form whose submit path is one of these fails with "forbidden call path".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PING = "/ping"
BINDINGS = "/bindings"
OAUTH2_CONNECT = "/oauth2/connect"
OAUTH2_COMPLETE = "/oauth2/complete"
WEBHOOK = "/webhook"

# Manifest calls with no default path: the plugin makes them only when the manifest declares them.
LIFECYCLE_CALLS = ("on_install", "on_uninstall", "on_version_changed", "on_enable", "on_disable")
# Manifest calls the plugin makes at a default path unless the manifest declares another.
DEFAULT_PATHS = {"get_oauth2_connect_url": OAUTH2_CONNECT, "on_oauth2_complete": OAUTH2_COMPLETE, "on_remote_webhook": WEBHOOK}


def declared_path(manifest: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    """The path of the manifest's call `name` (an object with "path", or a bare string), else `default`."""
    call = manifest.get(name)
    if isinstance(call, str):
        return call
    if isinstance(call, Mapping):
        path = call.get("path")
        return path if isinstance(path, str) else ""
    return default


def forbidden_call_paths(manifest: Mapping[str, Any]) -> frozenset[str]:
    """Every path the plugin refuses from the user agent for this manifest; never use one as a submit path."""
    paths = {PING}
    for name in LIFECYCLE_CALLS:
        path = declared_path(manifest, name)
        if path is not None:
            paths.add(path)
    for name, default in DEFAULT_PATHS.items():
        path = declared_path(manifest, name, default)
        if path is not None:
            paths.add(path)
    return frozenset(paths)
