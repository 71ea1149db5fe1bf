"""The slash command's tree, as a pure function of the command table and of who is asking.

A `Command` is one sub-command, declared once in the table (`commands.py`): its label, description, call path,
expand, who sees it, and its handler. Everything else (the bindings, `help`, the call routes) is derived from it.
Each sub-command's submit call carries its own expand: the plugin sends back exactly what a binding asks for, so
each one asks for the least it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mattermost_apps import CallRequest, CallResponse

Binding = dict[str, Any]
Expand = dict[str, str]


@dataclass(frozen=True)
class Viewer:
    """What the command tree depends on."""

    is_admin: bool
    is_connected: bool


# Who sees a command.
def everyone(viewer: Viewer) -> bool:
    return True


def admins(viewer: Viewer) -> bool:
    return viewer.is_admin


def connected(viewer: Viewer) -> bool:
    return viewer.is_connected


# What a call needs from Mattermost (levels: "", "id", "summary", "all"; never "none"). Every call that answers
# with a sentence also asks for the user's locale.
# A command that uses the user's token: the acting user, their Mattermost token (to store a refreshed or cleared
# record), the OAuth2 client (to refresh) and the user's stored record.
TOKEN_USE = {
    "acting_user": "summary",
    "acting_user_access_token": "all",
    "oauth2_app": "all",
    "oauth2_user": "all",
    "locale": "all",
}


@dataclass(frozen=True)
class Command:
    label: str
    description: str
    path: str
    expand: Expand
    shown_to: Callable[[Viewer], bool]
    handler: Callable[[CallRequest, Any], CallResponse]

    def binding(self) -> Binding:
        return {
            "location": self.label,
            "label": self.label,
            "description": self.description,
            "submit": {"path": self.path, "expand": self.expand},
        }


def visible(commands: Iterable[Command], viewer: Viewer) -> list[Command]:
    return [command for command in commands if command.shown_to(viewer)]


def command_bindings(commands: Iterable[Command], viewer: Viewer, *, trigger: str, description: str, icon: str) -> list[Binding]:
    """The `/command` binding: one top-level command `trigger` whose sub-commands are those `viewer` may see."""
    subs = [command.binding() for command in visible(commands, viewer)]
    return [
        {
            "location": "/command",
            "bindings": [
                {
                    "location": trigger,
                    "label": trigger,
                    "icon": icon,
                    "description": description,
                    "hint": "[" + " | ".join(b["label"] for b in subs) + "]",
                    "bindings": subs,
                }
            ],
        }
    ]
