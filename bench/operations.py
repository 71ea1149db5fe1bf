"""The operations a user waits on, each with its round-trip target, and what "it did its job" means for it.

Targets, in sequential upstream round trips on the wait (each stub adds its delay to every request):
complete ≤ 2 (exchange, then store; the identity from the ID token, the confirmation DM after the answer),
and ≤ 3 when the token answer has no ID token (userinfo too); a command with a fresh token 1 (the API call);
with a stale token 2 when the provider does not rotate refresh tokens (refresh, then the API call and the store
in parallel) and ≤ 3 when it does (a re-read of the stored record first); disconnect ≤ 2 with the store first
(clear, then at most one more); connect and bindings 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

from handlers.messages import text

from .latency import Answer, Operation
from .stubs import (
    AUTHORIZE_PATH,
    EVENT_SUMMARY,
    EVENTS,
    EXCHANGE,
    IDENTITY,
    OPEN_DM,
    POST_DM,
    REFRESH,
    REVOKE,
    STORE,
    USERINFO,
    MattermostStub,
    ProviderStub,
)
from .workload import ALICE, ALICE_TOKEN, Call, Workload

GOOGLE_LIKE = "google-like"  # the app whose provider does not rotate refresh tokens, as Google
ROTATING = "rotating"  # the app whose provider rotates them


def sub_command_labels(answer: Answer) -> list[str]:
    """The sub-commands usable now, as the command's hint lists them (every sub-command is bound, whatever the state)."""
    try:
        return str(answer["data"][0]["bindings"][0]["hint"]).strip("[]").split(" | ")
    except (KeyError, IndexError, TypeError):
        return []


def build_operations(
    work: Workload, provider: ProviderStub, rotating: ProviderStub, mattermost: MattermostStub
) -> list[Operation]:
    def holds_record(call: Call) -> None:
        mattermost.seed(ALICE_TOKEN, call.record)

    def says(*needles: str) -> Callable[[Answer], str]:
        def check(answer: Answer) -> str:
            shown = str(answer.get("text", ""))
            missing = [n for n in needles if n not in shown]
            return f"a text without {missing}: {shown[:200]!r}" if missing else ""

        return check

    def connects(answer: Answer) -> str:
        url = str(answer.get("data", ""))
        if url.startswith(provider.url + AUTHORIZE_PATH + "?") and "code_challenge=" in url:
            return ""
        return f"no authorization URL with a PKCE challenge: {url[:200]!r}"

    def lists_commands(answer: Answer) -> str:
        labels = sub_command_labels(answer)
        return "" if "info" in labels else f"no info command for a connected user: {labels}"

    def disconnected(answer: Answer) -> str:
        shown = str(answer.get("text", ""))
        unconfirmed = text("disconnect.unconfirmed").strip()
        if "Disconnected" not in shown:
            return f"no disconnection sentence: {shown[:200]!r}"
        return f"that the provider did not confirm, though it did: {shown[:200]!r}" if unconfirmed in shown else ""

    def stores_rotated_token() -> str:
        stored = mattermost.stored(ALICE_TOKEN)
        try:
            refresh_token = work.cipher.open(stored, user_id=ALICE.id).refresh_token
        except Exception as exc:
            return f"the stored record does not open ({type(exc).__name__})"
        if refresh_token != rotating.last_refresh_token:
            return "the stored record does not hold the rotated refresh token"
        return ""

    @contextmanager
    def without_id_token() -> Iterator[None]:
        provider.id_token = False
        try:
            yield
        finally:
            provider.id_token = True

    dm = (OPEN_DM, POST_DM)
    stale_needs = (REFRESH, STORE)
    operations = [
        Operation("bindings (connected user)", GOOGLE_LIKE, work.bindings, "==", 0, check=lists_commands),
        Operation("oauth2/connect", GOOGLE_LIKE, work.oauth2_connect, "==", 0, check=connects),
        Operation("oauth2/complete", GOOGLE_LIKE, work.oauth2_complete, "<=", 2, needs=(EXCHANGE, STORE, *dm)),
        Operation(
            "oauth2/complete, no ID token in the token answer",
            GOOGLE_LIKE,
            work.oauth2_complete,
            "<=",
            3,
            needs=(EXCHANGE, USERINFO, STORE, *dm),
            setup=without_id_token,
        ),
    ]
    for label, api, check in (("info", USERINFO, says(IDENTITY["email"])), ("events", EVENTS, says(EVENT_SUMMARY))):
        operations += [
            Operation(
                f"{label}, fresh token",
                GOOGLE_LIKE,
                partial(work.command, label),
                "==",
                1,
                check=check,
                needs=(api,),
                forbids=(REFRESH, STORE),
                prepare=holds_record,
            ),
            Operation(
                f"{label}, stale token, provider does not rotate",
                GOOGLE_LIKE,
                partial(work.command, label, stale=True),
                "==",
                2,
                check=check,
                needs=(*stale_needs, api),
                prepare=holds_record,
            ),
            Operation(
                f"{label}, stale token, provider rotates",
                ROTATING,
                partial(work.command, label, stale=True),
                "<=",
                3,
                check=check,
                needs=(*stale_needs, api),
                prepare=holds_record,
                verify=stores_rotated_token,
            ),
        ]
    operations.append(
        Operation(
            "disconnect",
            GOOGLE_LIKE,
            lambda: work.command("disconnect"),
            "<=",
            2,
            check=disconnected,
            needs=(STORE, REVOKE),
            prepare=holds_record,
            store_first=True,
        )
    )
    return operations
