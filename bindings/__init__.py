"""The slash command's tree, as a pure function of the command table and of who is asking.

A `Command` is one sub-command, declared once in the table (`commands.py`): its label, description, call path,
expand, who sees it, and its handler. Everything else (the bindings, `help`, the call routes) is derived from it.
Each sub-command's submit call carries its own expand: the plugin sends back exactly what a binding asks for, so
each one asks for the least it needs.

Every sub-command is bound for every user: one that is not bound never reaches the app, and the web client answers
it with its own parser error. What a user cannot use yet is bound with a description saying what to do first, and
`help` and the hint list only what is usable now. Each binding takes the rest of the line as one text field, so words
typed after a sub-command reach the app rather than the parser's "Unable to identify argument."
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mattermost_apps import CallRequest, CallResponse

if TYPE_CHECKING:
    from services import Services

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
    handler: Callable[[CallRequest, Services], CallResponse]
    # The provider scopes the command needs, as the app asks for them: a user who did not grant one is told so.
    scopes: tuple[str, ...] = ()

    def binding(self, *, description: str = "", rest_description: str = "") -> Binding:
        """The sub-command's binding: its submit call in a form whose one field takes the rest of the line."""
        return {
            "location": self.label,
            "label": self.label,
            "description": description or self.description,
            "form": {"submit": {"path": self.path, "expand": self.expand}, "fields": [rest_of_line(rest_description)]},
        }


REST_FIELD = "words"


def rest_of_line(description: str) -> dict[str, Any]:
    """A text field that takes whatever follows the sub-command (web client: position -1 takes the rest of the line)."""
    field: dict[str, Any] = {"name": REST_FIELD, "label": REST_FIELD, "type": "text", "position": -1}
    if description:
        field["description"] = description
    return field


def unlocked_by(command: Command, viewer: Viewer) -> str:
    """Why `viewer` cannot use `command` yet: "connect" (connecting unlocks it), "admin" (system admins only), or ""
    (usable now)."""
    if command.shown_to(viewer):
        return ""
    if command.shown_to(replace(viewer, is_connected=True)):
        return "connect"
    return "admin"


def visible(commands: Iterable[Command], viewer: Viewer) -> list[Command]:
    return [command for command in commands if command.shown_to(viewer)]


def command_bindings(
    commands: Iterable[Command],
    viewer: Viewer,
    *,
    trigger: str,
    description: str,
    icon: str,
    not_yet: Callable[[Command, str], str] = lambda command, _: command.description,
    rest_description: str = "",
) -> list[Binding]:
    """The `/command` binding: one top-level command `trigger` with every sub-command; those `viewer` cannot use yet are
    described by `not_yet(command, unlocked_by(command, viewer))`, and the hint lists only those usable now."""
    commands = list(commands)
    subs = [
        command.binding(
            description=not_yet(command, reason) if (reason := unlocked_by(command, viewer)) else "",
            rest_description=rest_description,
        )
        for command in commands
    ]
    usable = [command.label for command in visible(commands, viewer)]
    return [
        {
            "location": "/command",
            "bindings": [
                {
                    "location": trigger,
                    "label": trigger,
                    "icon": icon,
                    "description": description,
                    "hint": "[" + " | ".join(usable) + "]",
                    "bindings": subs,
                }
            ],
        }
    ]
