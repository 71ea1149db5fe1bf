"""The slash command's tree, as a pure function of the command table and of who is asking.

A `Command` is one sub-command, declared once in the table (`commands.py`): its label, description, call path,
expand, who sees it, and its handler. Everything else (the bindings, `help`, the call routes) is derived from it.
Each sub-command's submit call carries its own expand: the plugin sends back exactly what a binding asks for, so
each one asks for the least it needs.

Every sub-command is bound for every user: one that is not bound never reaches the app, and the web client answers
it with its own parser error. What a user cannot use yet is bound with a description saying what to do first, and
`help` and the hint list only what is usable now. Each binding takes the rest of the line as one text field, so words
typed after a sub-command reach the app rather than the parser's "Unable to identify argument."

A command may declare fields of its own (the SDK's `Field`s: flags, positional arguments, a dynamic select), which
its binding's form carries beside that text field; each dynamic select's lookup call is answered by the handler the
command names for it, and the app routes that call like the command's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from mattermost_apps import Binding, Call, CallRequest, CallResponse, Field, Form, slash_commands

if TYPE_CHECKING:
    from services import Services

Expand = dict[str, str]
Handler = Callable[[CallRequest, "Services"], CallResponse]


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
    handler: Handler
    # The provider scopes the command needs, as the app asks for them: a user who did not grant one is told so.
    scopes: tuple[str, ...] = ()
    # Its flags and positional arguments (`mattermost_apps.Field`), and for each dynamic select, by field name, the
    # handler of its lookup call (the call itself, path and expand, is the field's `lookup`).
    fields: tuple[Field, ...] = ()
    lookups: Mapping[str, Handler] = field(default_factory=dict)

    def __post_init__(self) -> None:
        with_lookup = {f.name for f in self.fields if f.lookup is not None}
        if with_lookup != set(self.lookups):
            raise ValueError(
                f"Command {self.label}: name a lookup handler for each dynamic select field and only for those"
                f" (fields {sorted(with_lookup)}, handlers {sorted(self.lookups)})."
            )
        self.form()  # the SDK's builders refuse, now, what the plugin or the web client would drop

    def form(self, rest_description: str = "") -> Form:
        """The command's form: its submit call, its own fields, and a text field taking the rest of the line (unless
        one of its own does)."""
        fields = list(self.fields)
        if not any(f.position == -1 for f in fields):
            fields.append(rest_of_line(rest_description))
        return Form(submit=Call(self.path, self.expand), fields=fields)

    def calls(self) -> list[tuple[Call, Handler]]:
        """The calls the command serves, each with its handler: its submit, then each field's lookup."""
        lookups = [(f.lookup, self.lookups[f.name]) for f in self.fields if f.lookup is not None]
        return [(Call(self.path, self.expand), self.handler), *lookups]

    def binding(self, *, description: str = "", rest_description: str = "") -> Binding:
        """The sub-command's binding: its form, whose submit call is the command's."""
        return Binding(self.label, description=description or self.description, form=self.form(rest_description))


REST_FIELD = "words"


def rest_of_line(description: str) -> Field:
    """A text field that takes whatever follows the sub-command (web client: position -1 takes the rest of the line)."""
    return Field(REST_FIELD, "text", position=-1, description=description)


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
) -> list[dict[str, Any]]:
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
    hint = "[" + " | ".join(usable) + "]"
    return [slash_commands(Binding(trigger, icon=icon, description=description, hint=hint, bindings=subs))]
