"""The Redis lock fails safe, over real processes: two replicas on "two hosts" (a lock folder each) sharing a real
Redis, oidc-provider rotating refresh tokens, the emulated Mattermost behind a proxy the test controls.

- A key lost while its holder works (a Redis restart, a failover, here FLUSHALL) cannot let two refreshes send the
  same refresh token: the holder checks its lease before it sends one, and stops if the key is gone.
- A key whose SET reached Redis late (the caller gave up on a paused Redis, which then ran the SET on resuming)
  expires by the end of that caller's call: it keeps the user waiting no longer than one call's deadline.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
import redis
from werkzeug.wrappers import Request

from mattermost_apps.client import APPS_API_PATH
from mattermost_apps.testing import call_headers

from .harness import ForwardingProxy, ManagedProcess, free_port
from .test_refresh_race import ALICE, CALL_TIMEOUT, RUNNING, Answer, Race, post_call
from .test_refresh_race import race as race  # noqa: PLC0414 - the fixture, shared

pytestmark = pytest.mark.e2e

LOCK_KEY = "mattermost-app-refresh:" + hashlib.sha256(ALICE.id.encode()).hexdigest()


class HeldRead(ForwardingProxy):
    """Mattermost as the app reaches it: when `hold` is set, the next read of the user's record is answered with what
    Mattermost held when it arrived, but only once `release` is set."""

    def __init__(self, upstream: str) -> None:
        super().__init__()
        self._upstream = upstream
        self.hold = False
        self.holding = threading.Event()
        self.release = threading.Event()

    def upstream(self, request: Request, body: bytes) -> str:
        return self._upstream

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        held = self.hold and environ["REQUEST_METHOD"] == "GET" and environ["PATH_INFO"] == APPS_API_PATH + "/oauth2/user"
        if not held:
            return super()._wsgi(environ, start_response)
        self.hold = False
        answer = list(super()._wsgi(environ, start_response))  # read from Mattermost now...
        self.holding.set()
        self.release.wait(CALL_TIMEOUT)  # ...answered later
        return answer


@pytest.fixture
def held_read(race: Race) -> Iterator[HeldRead]:
    proxy = HeldRead(race.stack.emulator.site_url)
    proxy.start()
    yield proxy
    proxy.release.set()
    proxy.stop()


def two_hosts(race: Race, name: str, **extra: str) -> list[dict[str, str]]:
    envs = []
    for host in ("a", "b"):
        (race.tmp / f"{name}-{host}").mkdir()
        envs.append(race.env(free_port(), TMPDIR=str(race.tmp / f"{name}-{host}"), REDIS_URL=race.redis_url, **extra))
    return envs


def call_in_thread(app: ManagedProcess, request: dict, headers: dict[str, str]) -> tuple[threading.Thread, list[Answer]]:
    answers: list[Answer] = []
    thread = threading.Thread(target=lambda: answers.append(post_call(app, request, headers, threading.Barrier(1))))
    thread.start()
    return thread, answers


def test_a_lost_key_never_lets_two_refreshes_send_one_refresh_token(race: Race, held_read: HeldRead) -> None:
    """The first call takes the lock and re-reads the stored record, which the proxy answers late; meanwhile the key
    is lost and a call on the other host takes the lock and refreshes. The first call must not send the refresh token
    the second has just traded in (the provider would revoke the grant)."""
    store = redis.Redis.from_url(race.redis_url)
    with race.apps("lost-key", two_hosts(race, "lost-key", MATTERMOST_SITE_URL=held_read.url)) as (first, second):
        caller = race.connect_alice()
        stored = race.stack.emulator.stored_oauth2_user("alice")
        one, two = caller.request("info", stored), caller.request("events", stored)
        held_read.hold = True
        thread, answers = call_in_thread(first, one, call_headers(caller.installed, one))
        assert held_read.holding.wait(CALL_TIMEOUT), "the first call never re-read the stored record"
        assert store.exists(LOCK_KEY)
        store.flushall()  # the key is lost while its holder works
        other = post_call(second, two, call_headers(caller.installed, two), threading.Barrier(1))
        held_read.release.set()
        thread.join(CALL_TIMEOUT)
        assert other.ok, other
        (late,) = answers
        assert late.body.get("type") == "error" and "connect" not in late.body.get("text", ""), late
        caller.assert_grant_alive()


def test_a_late_set_keeps_a_user_busy_no_longer_than_one_calls_deadline(race: Race) -> None:
    """Redis paused: the call gives up on its SET (the sentence says to try again); Redis resumes and runs the SET.
    The key must expire within CALL_DEADLINE, and the user's calls then work again."""
    deadline = 4.0
    store = redis.Redis.from_url(race.redis_url)
    redis_process = next(process for process in RUNNING if process.name == "redis" and process.url == race.redis_url)
    envs = two_hosts(race, "late-set", HTTP_TIMEOUT=str(deadline), CALL_DEADLINE=str(deadline))
    with race.apps("late-set", envs) as (first, _):
        caller = race.connect_alice()
        caller.check(*caller.trial(first, first))  # the app's connection to Redis is open: a paused Redis gets the SET
        request = caller.request("info", race.stack.emulator.stored_oauth2_user("alice"))
        os.kill(redis_process.popen.pid, signal.SIGSTOP)
        try:
            answer = post_call(first, request, call_headers(caller.installed, request), threading.Barrier(1))
        finally:
            os.kill(redis_process.popen.pid, signal.SIGCONT)
        assert answer.body.get("type") == "error" and "connect" not in answer.body.get("text", ""), answer
        resumed = time.monotonic()
        ttl_ms = store.pttl(LOCK_KEY)
        assert ttl_ms > 0, "the late SET never reached Redis: the test did not happen"
        assert ttl_ms <= deadline * 1000, f"a late key keeps the user busy {ttl_ms} ms, over the {deadline:g} s deadline"
        while store.exists(LOCK_KEY):
            time.sleep(0.05)
        print(f"late SET: the key lived {time.monotonic() - resumed:.2f} s after Redis resumed (TTL {ttl_ms} ms)")
        caller.check(*caller.trial(first, first))
        caller.assert_grant_alive()
