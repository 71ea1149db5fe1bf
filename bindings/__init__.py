"""The `/google` command tree, as a pure function of who is asking.

Each sub-command's submit call carries its own expand: the plugin sends back exactly what a binding asks
for, so each one asks for the least it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import call_paths as paths

Binding = dict[str, Any]

# What each call needs from Mattermost (levels: "", "id", "summary", "all"; never "none").
CONFIGURE_FORM_EXPAND = {"acting_user": "summary", "oauth2_app": "all"}
CONFIGURE_SUBMIT_EXPAND = {"acting_user": "summary", "acting_user_access_token": "all", "oauth2_app": "all"}
CONNECT_EXPAND = {"acting_user": "id", "oauth2_app": "all", "oauth2_user": "all"}
TOKEN_USE_EXPAND = {
    "acting_user": "summary",
    "acting_user_access_token": "all",
    "oauth2_app": "all",
    "oauth2_user": "all",
}
DISCONNECT_EXPAND = TOKEN_USE_EXPAND
HELP_EXPAND = {"acting_user": "summary", "oauth2_app": "all", "oauth2_user": "all"}


@dataclass(frozen=True)
class Viewer:
    """What the command tree depends on."""

    is_admin: bool
    is_configured: bool
    is_connected: bool


def _command(label: str, description: str, path: str, expand: dict[str, str], hint: str = "") -> Binding:
    binding: Binding = {
        "location": label,
        "label": label,
        "description": description,
        "submit": {"path": path, "expand": expand},
    }
    if hint:
        binding["hint"] = hint
    return binding


def sub_commands(viewer: Viewer) -> list[Binding]:
    commands: list[Binding] = []
    if viewer.is_admin:
        commands.append(
            _command(
                "configure", "Register the Google OAuth2 client (system admins)", paths.CONFIGURE_FORM, CONFIGURE_FORM_EXPAND
            )
        )
    if not viewer.is_connected:
        commands.append(_command("connect", "Connect your Google account", paths.CONNECT, CONNECT_EXPAND))
    else:
        commands.append(_command("info", "Show the connected Google account", paths.INFO, TOKEN_USE_EXPAND))
        commands.append(_command("events", "List your next 5 Google Calendar events", paths.EVENTS, TOKEN_USE_EXPAND))
        commands.append(_command("disconnect", "Disconnect your Google account", paths.DISCONNECT, DISCONNECT_EXPAND))
    commands.append(_command("help", "Show what /google can do", paths.HELP, HELP_EXPAND))
    return commands


def command_bindings(viewer: Viewer, *, icon: str = "icon.png") -> list[Binding]:
    subs = sub_commands(viewer)
    return [
        {
            "location": "/command",
            "bindings": [
                {
                    "location": paths.COMMAND,
                    "label": paths.COMMAND,
                    "icon": icon,
                    "description": "Google account and calendar",
                    "hint": "[" + " | ".join(b["label"] for b in subs) + "]",
                    "bindings": subs,
                }
            ],
        }
    ]
