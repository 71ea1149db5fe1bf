"""Against the real oidc-provider with refresh-token rotation on (OP_ROTATE=1): replaying a used
refresh token there revokes the whole grant. Several `/<command> info` for one user at once, all carrying the same
expired record, must all succeed with one refresh and no replay.

A proxy in front of the provider holds each refresh for half a second, so every call is surely built (by the
emulated plugin) from the old record before the first refresh is stored: the race always happens.
The same race against a stub provider, and its control without the app's lock, is tests/security/test_refresh.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from werkzeug.wrappers import Request

from tests.names import CMD, PROVIDER

from .conftest import RUNNING
from .harness import (
    ForwardingProxy,
    ManagedProcess,
    ProviderClient,
    Stack,
    UserAgent,
    app_env,
    complete_url,
    connect_link,
    free_port,
    start_app,
    start_provider,
    stop_all,
)

pytestmark = pytest.mark.e2e

REFRESH_HOLD_SECONDS = 0.5
CONCURRENT_CALLS = 4  # gunicorn.conf.py gives the one worker 4 threads


class HoldingProxy(ForwardingProxy):
    """Forwards everything to the provider; holds `grant_type=refresh_token` requests for a moment first."""

    def __init__(self, upstream: str, hold: float) -> None:
        super().__init__()
        self._upstream = upstream
        self.hold = hold

    def upstream(self, request: Request, body: bytes) -> str:
        if b"grant_type=refresh_token" in body:
            time.sleep(self.hold)
        return self._upstream


@dataclass
class Rotating:
    app_url: str
    provider: ProviderClient


@pytest.fixture(scope="module")
def rotating(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rotating]:
    """A second provider (rotation on) and a second app using it; the session's emulator plays Mattermost."""
    log_dir = tmp_path_factory.mktemp("rotation-logs")
    provider_port, app_port = free_port(), free_port()
    provider_url = f"http://127.0.0.1:{provider_port}"
    app_url = f"http://127.0.0.1:{app_port}"
    proxy = HoldingProxy(provider_url, REFRESH_HOLD_SECONDS)
    processes: list[ManagedProcess] = []
    try:
        processes.append(
            start_provider(
                provider_port,
                redirect_uris=[complete_url(stack.emulator.site_url)],
                log_dir=log_dir,
                name="oidc-provider-rotating",
                rotate=True,
            )
        )
        env = app_env(
            port=app_port,
            root_url=app_url,
            app_secret=stack.app_secret,
            provider_url=provider_url,
            calendar_url=stack.calendar_url,
            encryption_key=stack.encryption_key,
        )
        env["OAUTH2_TOKEN_URL"] = proxy.url + "/token"
        env["OAUTH2_ROTATES_REFRESH_TOKENS"] = "true"
        processes.append(start_app(app_port, env=env, log_dir=log_dir, name="app-rotating"))
        RUNNING.extend(processes)
        processes[0].wait_until_up("/.well-known/openid-configuration")
        processes[1].wait_until_up("/manifest.json")
        proxy.start()
        yield Rotating(app_url, ProviderClient(provider_url))
    finally:
        proxy.stop()
        stop_all(processes)


def test_concurrent_calls_with_an_expired_token_do_not_replay_a_rotated_refresh_token(stack: Stack, rotating: Rotating):
    emulator, provider = stack.emulator, rotating.provider
    emulator.reset()
    stack.install(rotating.app_url)
    assert stack.configure()["type"] == "ok"

    provider.set_access_token_ttl(1)  # the connect's access token is stale at once (the app's margin is 60 s)
    alice = UserAgent(emulator.url, "alice")
    page = alice.connect(connect_link(emulator.command("alice", f"{CMD} connect")), provider_login="alice")
    assert page.status_code == 200 and "Completed connecting your account" in page.text, page.text
    first = stack.stored_record("alice")
    assert first is not None and first.refresh_token
    provider.set_access_token_ttl(3600)  # the refreshed one is fresh, so the waiting calls can use it
    provider.clear_log()

    answers: list[dict | None] = [None] * CONCURRENT_CALLS
    start = threading.Barrier(CONCURRENT_CALLS)

    def info(i: int) -> None:
        start.wait()
        answers[i] = emulator.command("alice", f"{CMD} info")

    threads = [threading.Thread(target=info, args=(i,)) for i in range(CONCURRENT_CALLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    for answer in answers:
        assert answer is not None and answer["type"] == "ok", answers
        assert f"Connected to {PROVIDER} as **alice@example.test** (Alice Test)" in answer["text"]
    refreshes = provider.token_requests("refresh_token")
    assert [r["status"] for r in refreshes] == [200], refreshes  # one refresh, no replay (a replay answers 400)
    second = stack.stored_record("alice")
    assert second is not None and second.refresh_token not in (None, first.refresh_token)

    # The grant is alive: the next call uses the stored token with no refresh at all.
    assert emulator.command("alice", f"{CMD} info")["type"] == "ok"
    assert len(provider.token_requests("refresh_token")) == 1

    # And this provider does punish a replay: the first refresh token is refused, and it takes the grant with it.
    assert provider.refresh(first.refresh_token).status_code == 400
    assert provider.refresh(second.refresh_token).status_code == 400
    answer = emulator.command("alice", f"{CMD} info")
    assert answer["type"] == "error" and f"{CMD} connect" in answer["text"], answer
