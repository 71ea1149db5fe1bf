"""The slash command's sub-commands, each declared once: label, description, call path, expand, who sees it, handler,
and the provider scopes it needs.

The bindings, `help`, and the call routes are derived from this table; adding a command is one entry here, one
handler module in `handlers/`, and one test (docs/adapting.md). A command's flags and positional arguments are its
`fields` (the SDK's `Field`); a dynamic select among them names its lookup call, whose handler is in `lookups`.
The command is named after the provider (`AppProvider.command`: `/google`). No call path may be one the plugin reserves
(`/ping`, `/oauth2/connect`, `/oauth2/complete`, `/webhook`, and the manifest's `/install`): the app refuses to start
with one.
"""

from __future__ import annotations

from bindings import TOKEN_USE, Command, admins, connected, everyone
from handlers.configure import configure_form
from handlers.connection import connect_link, disconnect
from handlers.events import CALENDAR, calendar_choices, events
from handlers.help import show_help
from handlers.info import info
from mattermost_apps import Call, Field
from provider import CALENDAR_SCOPE, AppProvider

P = AppProvider.name

COMMANDS: tuple[Command, ...] = (
    Command(
        "configure",
        f"Register the {P} OAuth2 client (system admins)",
        "/configure/form",
        {"acting_user": "summary", "oauth2_app": "all", "locale": "all"},
        admins,
        configure_form,
    ),
    Command(
        "connect",
        f"Connect your {P} account",
        "/commands/connect",
        {"acting_user": "summary", "oauth2_app": "all", "oauth2_user": "all", "locale": "all"},
        everyone,  # also to switch accounts: a connected user gets a link to connect again
        connect_link,
    ),
    Command("info", f"Show the connected {P} account", "/commands/info", TOKEN_USE, connected, info),
    Command(
        "events",
        f"List your next 5 {P} Calendar events",
        "/commands/events",
        TOKEN_USE,
        connected,
        events,
        scopes=(CALENDAR_SCOPE,),
        fields=(
            # --calendar: offered from the user's calendars as they type (the lookup uses their token too)
            Field(
                CALENDAR,
                "dynamic_select",
                lookup=Call("/commands/events/calendars", TOKEN_USE),
                hint="Your primary calendar",
                description="The calendar to list (by default your primary one)",
            ),
        ),
        lookups={CALENDAR: calendar_choices},
    ),
    Command("disconnect", f"Disconnect your {P} account", "/commands/disconnect", TOKEN_USE, connected, disconnect),
    Command(
        "help",
        f"Show what /{AppProvider.command} can do",
        "/commands/help",
        {"acting_user": "summary", "oauth2_app": "all", "oauth2_user": "all", "locale": "all"},
        everyone,
        show_help,
    ),
)
