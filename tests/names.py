"""The names an App author renames first, read from where each is declared: the provider's display name and slash
command (`provider.AppProvider`) and the manifest's `app_id`. Every test, fixture and the end-to-end harness build their
sentences, command lines and URLs from these, so renaming the app changes no test (tests/tooling checks that no test
outside the provider's own spells the shipped provider's name)."""

from __future__ import annotations

import json

from provider import AppProvider
from services import MANIFEST_TEMPLATE

MANIFEST = json.loads(MANIFEST_TEMPLATE.read_text(encoding="utf-8"))
APP_ID: str = MANIFEST["app_id"]
# The plugin names the app's bot after its app_id, lower-cased.
BOT_USERNAME = APP_ID.lower()
# The provider's display name, as sentences say it ("Connect your {PROVIDER} account").
PROVIDER = AppProvider.name
# The slash command as a user types it, without a sub-command: "/<command>".
CMD = f"/{AppProvider.command}"
