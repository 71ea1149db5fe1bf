"""An emulated Mattermost server running the Apps plugin v1.2.2: install, calls with expand and JWT, the plugin's
cleanup of bindings and forms, the OAuth2 browser routes, the REST API, the web client's command parser, a minimal
web UI, and `/_emulator` test controls.

`create_emulator(site_url)` builds it as a Flask app; `python -m mattermost_apps.testing.emulator --port N` serves it.
Each rule it applies is the plugin's or the web client's, cited in the module that applies it.
"""

from .plugin import CallFailed, InstallFailed, Plugin
from .server import create_emulator, main
from .store import SEEDED_USERS, AppRecord, Store

__all__ = ["SEEDED_USERS", "AppRecord", "CallFailed", "InstallFailed", "Plugin", "Store", "create_emulator", "main"]
