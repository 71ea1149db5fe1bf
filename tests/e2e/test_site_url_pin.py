"""Without MATTERMOST_SITE_URL, the Mattermost the app trusts is the one its install named, kept beside the app's
secret for every worker and every restart: over real gunicorn (2 workers) and the emulated Mattermost, calls forged
with one valid JWT cannot choose it, before the install or after a restart, and a site URL that is not a plain
http(s)://host[:port][/path] is refused before anything is pinned or logged.

(The first call that wrote to Mattermost used to pin each worker, anew at each start: after a restart, forged
disconnects naming a dead address pinned both workers there, and every real call failed until the next restart.)
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest

from commands import COMMANDS
from mattermost_apps.testing import InstalledApp, User, build_call_request, call_headers
from provider import AppProvider

from .harness import ManagedProcess, UserAgent, connect_link, free_port
from .test_refresh_race import ALICE, Race, post_call
from .test_refresh_race import race as race  # noqa: PLC0414 - the fixture, shared

pytestmark = pytest.mark.e2e

FORGED_CALLS = 12
NOT_PLAIN = (
    "http://127.0.0.1:9/\nFORGED log line",
    "http://xn--",
    "http://attacker@127.0.0.1:9",
    "http://127.0.0.1:9/?q=1",
    "ftp://127.0.0.1:9",
)
DISCONNECT = next(command for command in COMMANDS if command.label == "disconnect")


def forged(app: ManagedProcess, installed: InstalledApp, site_url: str, count: int = 1) -> list[dict[str, Any]]:
    """`count` disconnect calls, each on a new connection, signed with a valid JWT and naming `site_url`."""
    answers = []
    for _ in range(count):
        body = build_call_request(
            dataclasses.replace(installed, site_url=site_url),
            {"path": DISCONNECT.path, "expand": DISCONNECT.expand},
            acting_user=ALICE,
            acting_user_access_token="forged-session-token",
        )
        answers.append(post_call(app, body, call_headers(installed, body), threading.Barrier(1)).body)
    return answers


def test_forged_calls_cannot_choose_the_mattermost_before_the_install_or_after_a_restart(race: Race) -> None:
    env = race.env(free_port())
    env["APP_SECRET_FILE"] = str(race.tmp / "pin-instance" / "app_secret")  # a new app: nothing pinned yet
    attacker = InstalledApp(
        app_id="forged",
        root_url=race.apps_proxy.url,
        secret=race.stack.app_secret,
        bot=User(id="b" * 26, username="bot", is_bot=True),
        bot_access_token="forged-bot-token",
        site_url="",
    )
    dead = f"http://127.0.0.1:{free_port()}"
    with race.apps("pin-first-start", [env], workers=2) as (app,):
        for url in NOT_PLAIN:
            (answer,) = forged(app, attacker, url)
            assert answer == {
                "type": "error",
                "text": "The call names a Mattermost site URL the app cannot use, so it is refused.",
            }
        # Before the install, no call can pin anything.
        assert all(a["type"] == "error" and "/apps install" in a["text"] for a in forged(app, attacker, dead, 4))
        caller = race.connect_alice()  # the install pins the emulator
        log = app.output(limit=200_000)
    assert not any(line.startswith("FORGED") for line in log.splitlines()), log
    assert "xn--" not in log and "attacker@" not in log
    assert log.count("trusting the Mattermost at") == 1, log

    with race.apps("pin-restarted", [env], workers=2) as (app,):
        answers = forged(app, caller.installed, dead, FORGED_CALLS)
        assert all(a["type"] == "error" and "another Mattermost" in a["text"] for a in answers), answers
        emulator = race.stack.emulator
        for _ in range(4):
            answer = emulator.command("alice", f"/{AppProvider.command} info")
            assert answer["type"] == "ok", answer
        assert emulator.command("alice", f"/{AppProvider.command} disconnect")["type"] == "ok"
        page = UserAgent(emulator.url, "alice").connect(
            connect_link(emulator.command("alice", f"/{AppProvider.command} connect")), provider_login="alice"
        )
        assert page.status_code == 200 and "Completed connecting your account" in page.text, page.text
