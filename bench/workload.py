"""The calls the bench sends: CallRequests built exactly as the Apps plugin builds them, JWT-signed, with
encrypted token records made with the key the app derives from its APP_SECRET.

Every call is built when it is sent (a fresh JWT), and every record has refresh and access tokens of its own,
so no call replays a refresh token another call already traded in.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from commands import COMMANDS
from mattermost_apps.testing import (
    DEFAULT_COMPLETE_EXPAND,
    DEFAULT_CONNECT_EXPAND,
    InstalledApp,
    User,
    build_call_request,
    call_headers,
)
from provider import Identity
from settings import Settings
from user_tokens import TokenCipher, TokenRecord

from .stubs import IDENTITY

REPO = Path(__file__).resolve().parent.parent
COMMAND = {command.label: command for command in COMMANDS}
APP_SECRET = "bench-app-secret-0123456789abcdef-0123456789abcdef"
CLIENT_ID = "1234-bench.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-bench-client-secret-wxyz"
ALICE = User(id="a1icea1icea1icea1icea1icea", username="alice", email="alice@example.com", first_name="Alice")
BOT = User(id="b0tb0tb0tb0tb0tb0tb0tb0tb0", username="google-oauth2", is_bot=True)
ALICE_TOKEN = "alicetoken000000000000000a"
BOT_TOKEN = "bottoken00000000000000000b"
STATE = "q1w2e3r4t5y6u7i8o9p0." + ALICE.id
SCOPES = "openid email profile https://www.googleapis.com/auth/calendar.readonly"


def bindings_expand() -> dict[str, str]:
    """The expand the app's own manifest declares for /bindings."""
    manifest = json.loads((REPO / "manifest.json").read_text(encoding="utf-8"))
    return dict(manifest["bindings"]["expand"])


@dataclass(frozen=True)
class Call:
    """One HTTP call to the app: path, exact JSON body, headers (JWT included), and the record it carries."""

    path: str
    body: str
    headers: dict[str, str]
    record: dict[str, Any] | None = None


class Workload:
    def __init__(self, *, app_url: str, mattermost_url: str, secret: str = APP_SECRET) -> None:
        self.installed = InstalledApp(
            app_id="google-oauth2",
            root_url=app_url,
            secret=secret,
            bot=BOT,
            bot_access_token=BOT_TOKEN,
            site_url=mattermost_url,
            oauth2_app={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        )
        self.cipher = TokenCipher(Settings(app_secret=secret).token_keys)
        self._tags = itertools.count(1)

    def record(self, *, stale: bool, tag: str = "") -> dict[str, Any]:
        """An encrypted record as the app stores it, with tokens no other record has."""
        tag = tag or f"r{next(self._tags)}"
        expires_at = time.time() + (-10 if stale else 3600)
        record = TokenRecord(f"ya29.bench-{tag}", f"1//bench-refresh-{tag}", expires_at, SCOPES, "Bearer", Identity(**IDENTITY))
        return self.cipher.seal(record, user_id=ALICE.id)

    def call(
        self, path: str, expand: dict[str, str], *, record: dict[str, Any] | None = None, values: dict[str, Any] | None = None
    ) -> Call:
        stored = json.dumps(record).encode() if record is not None else None
        body = build_call_request(
            self.installed,
            {"path": path, "expand": expand},
            acting_user=ALICE,
            acting_user_access_token=ALICE_TOKEN,
            stored_oauth2_user=stored,
            values=values,
        )
        return Call(path, json.dumps(body), call_headers(self.installed, body), record)

    def bindings(self) -> Call:
        """For a connected user; the same record every time, as the plugin sends it on every refresh."""
        return self.call("/bindings", bindings_expand(), record=self.record(stale=False, tag="bindings"))

    def oauth2_connect(self) -> Call:
        return self.call("/oauth2/connect", DEFAULT_CONNECT_EXPAND, values={"state": STATE})

    def oauth2_complete(self) -> Call:
        values = {"state": STATE, "code": f"4/0Abench-code-{next(self._tags)}", "scope": SCOPES}
        return self.call("/oauth2/complete", DEFAULT_COMPLETE_EXPAND, values=values)

    def command(self, label: str, *, stale: bool = False) -> Call:
        command = COMMAND[label]
        return self.call(command.path, command.expand, record=self.record(stale=stale))
