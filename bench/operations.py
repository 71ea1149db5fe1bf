"""The operations a user waits on, each with its round-trip target, driven through the app's public surface only:
calls built and signed as the Apps plugin does (`mattermost_apps.testing`), the app id and the bindings' expand
from manifest.json, each command's path and expand from the app's own /bindings answer, and the user's record as
Mattermost holds it after the app stored it (the bench never makes or opens one). docs/performance.md explains
each target.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from functools import partial
from typing import Any

from mattermost_apps import testing

from . import stubs
from .latency import REPO, Answer, BenchFailure, Call, Operation, answer_problem, post
from .stubs import MattermostStub, ProviderStub

APP_SECRET = "bench-app-secret-0123456789abcdef-0123456789abcdef"
CLIENT_ID, CLIENT_SECRET = "1234-bench.apps.googleusercontent.com", "GOCSPX-bench-client-secret-wxyz"
ALICE = testing.User(id="a1icea1icea1icea1icea1icea", username="alice", email="alice@example.com", first_name="Alice")
ALICE_TOKEN, BOT_TOKEN = "alicetoken000000000000000a", "bottoken00000000000000000b"
STATE = "q1w2e3r4t5y6u7i8o9p0." + ALICE.id
STALE_SECONDS = 30  # an access token this short-lived is refreshed before use
MANIFEST = json.loads((REPO / "manifest.json").read_text(encoding="utf-8"))


class Workload:
    """Alice's calls to one app, whose provider is `provider`; Mattermost is `mattermost`."""

    def __init__(self, app_url: str, provider: ProviderStub, mattermost: MattermostStub) -> None:
        self.url, self.provider, self.mattermost = app_url, provider, mattermost
        self.installed = testing.InstalledApp(
            app_id=MANIFEST["app_id"],
            root_url=app_url,
            secret=APP_SECRET,
            bot=testing.User(id="b0tb0tb0tb0tb0tb0tb0tb0tb0", username=MANIFEST["app_id"], is_bot=True),
            bot_access_token=BOT_TOKEN,
            site_url=mattermost.url,
            oauth2_app={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        )
        self._codes = itertools.count(1)
        self.commands: dict[str, tuple[str, dict[str, str]]] = {}

    def call(self, path: str, expand: dict[str, str], values: dict[str, Any] | None = None) -> Call:
        """Built when it is sent (a fresh JWT), with the record Mattermost holds for Alice at that moment."""
        stored = self.mattermost.stored(ALICE_TOKEN)
        body = testing.build_call_request(
            self.installed,
            {"path": path, "expand": expand},
            acting_user=ALICE,
            acting_user_access_token=ALICE_TOKEN,
            stored_oauth2_user=None if stored is None else json.dumps(stored).encode(),
            values=values,
        )
        return Call(self.url + path, json.dumps(body), testing.call_headers(self.installed, body))

    def bindings(self) -> Call:
        return self.call(MANIFEST["bindings"]["path"], dict(MANIFEST["bindings"]["expand"]))

    def oauth2_connect(self) -> Call:
        return self.call("/oauth2/connect", testing.DEFAULT_CONNECT_EXPAND, {"state": STATE})

    def oauth2_complete(self) -> Call:
        values = {"state": STATE, "code": f"4/0Abench-code-{next(self._codes)}", "scope": "openid email profile"}
        return self.call("/oauth2/complete", testing.DEFAULT_COMPLETE_EXPAND, values)

    def command(self, label: str) -> Call:
        return self.call(*self.commands[label])

    def connect(self, *, stale: bool = False) -> None:
        """Alice connects (complete, unmeasured): Mattermost then holds a record with a token this fresh."""
        self.provider.expires_in = STALE_SECONDS if stale else 3599
        problem = answer_problem(*post(self.oauth2_complete())[3:], lambda _answer: "")
        if problem:
            raise BenchFailure(f"connecting Alice before a call: {problem}")

    def learn_commands(self) -> None:
        """The sub-commands a connected user sees, with the path and expand each one's submit call names (the binding's
        own, or its form's)."""
        self.connect()
        for binding in sub_commands(json.loads(post(self.bindings())[4])):
            submit = binding.get("submit") or binding["form"]["submit"]
            self.commands[binding["label"]] = (submit["path"], submit.get("expand", {}))


def sub_commands(answer: Answer) -> list[dict[str, Any]]:
    try:
        return list(answer["data"][0]["bindings"][0]["bindings"])
    except (KeyError, IndexError, TypeError):
        return []


def build_operations(work: Workload, plain: Workload) -> list[Operation]:
    """`work`: the app whose provider is like Google; `plain`: the one whose provider sends no ID token and rotates."""

    def says(needle: str) -> Callable[[Answer], str]:
        return lambda answer: "" if needle in json.dumps(answer) else f"{json.dumps(answer)[:200]}, without {needle!r}"

    def cleared(_answer: Answer) -> str:
        return "" if work.mattermost.stored(ALICE_TOKEN) is None else "and left the record in Mattermost"

    info, plain_info = partial(work.command, "info"), partial(plain.command, "info")
    stale, plain_stale = partial(work.connect, stale=True), partial(plain.connect, stale=True)
    exchange, refresh = (stubs.EXCHANGE, stubs.STORE, stubs.OPEN_DM, stubs.POST_DM), (stubs.REFRESH, stubs.STORE, stubs.USERINFO)
    knows_alice = says(stubs.IDENTITY["email"])
    return [
        Operation("bindings (connected user)", work.bindings, "==", 0, says('"label": "info"'), prepare=work.connect),
        Operation("oauth2/connect", work.oauth2_connect, "==", 0, says(work.provider.url + stubs.AUTHORIZE_PATH)),
        Operation("oauth2/complete", work.oauth2_complete, "<=", 2, needs=exchange),
        Operation("oauth2/complete, no ID token", plain.oauth2_complete, "<=", 3, needs=(*exchange, stubs.USERINFO)),
        Operation("info, fresh token", info, "==", 1, knows_alice, (stubs.USERINFO,), refresh[:2], prepare=work.connect),
        Operation("info, stale token", info, "==", 2, knows_alice, refresh, prepare=stale),
        Operation("info, stale token, provider rotates", plain_info, "<=", 3, knows_alice, refresh, prepare=plain_stale),
        Operation(
            "disconnect", partial(work.command, "disconnect"), "<=", 2, cleared, (stubs.STORE, stubs.REVOKE), prepare=work.connect
        ),
    ]
