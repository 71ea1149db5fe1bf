"""Every call path the app serves. None may be `/oauth2/connect`, `/oauth2/complete`, `/ping` or `/webhook`
for a binding: the plugin refuses those from the user agent ("forbidden call path")."""

BINDINGS = "/bindings"
PING = "/ping"
INSTALL = "/install"
OAUTH2_CONNECT = "/oauth2/connect"
OAUTH2_COMPLETE = "/oauth2/complete"

CONFIGURE_FORM = "/configure/form"
CONFIGURE_SUBMIT = "/configure/submit"
CONNECT = "/commands/connect"
DISCONNECT = "/commands/disconnect"
INFO = "/commands/info"
EVENTS = "/commands/events"
HELP = "/commands/help"

RESERVED = frozenset({OAUTH2_CONNECT, OAUTH2_COMPLETE, PING, "/webhook", INSTALL})
COMMAND = "google"
