"""CALL_DEADLINE holds whatever the upstream does, over real processes: gunicorn as shipped (gevent, 2 workers),
oidc-provider rotating refresh tokens, the emulated Mattermost. An upstream that sends its headers and then one byte
every half second, or an answer of 200 MB, ends the call with the app's sentence within the deadline; a refresh that
trickles under the refresh lock does too, and the lock is free for the next call.

(requests' timeout bounds each socket read, not the answer: a byte every half second kept a call for as long as the
upstream liked, and a whole answer was read into memory.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from mattermost_apps.testing import call_headers

from .harness import ForwardingProxy, ManagedProcess, free_port
from .test_refresh_race import Answer, Caller, Race, post_call
from .test_refresh_race import race as race  # noqa: PLC0414 - the fixture, shared

pytestmark = pytest.mark.e2e

HTTP_TIMEOUT = 2.0
CALL_DEADLINE = 4.0
SLACK = 1.5  # the answer's way back, and a loaded machine
TRICKLE_BYTES = 60  # one every TRICKLE_EVERY seconds: 30 s, longer than the plugin waits
TRICKLE_EVERY = 0.5
HUGE_BYTES = 200 * 1024 * 1024


def trickle(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """A JSON answer whose headers come at once and whose body comes a byte at a time."""

    def body() -> Iterator[bytes]:
        yield b"{"
        for _ in range(TRICKLE_BYTES - 2):
            time.sleep(TRICKLE_EVERY)
            yield b" "
        yield b"}"

    headers = [("Content-Type", "application/json"), ("Content-Length", str(TRICKLE_BYTES))]
    return Response(body(), status=200, headers=headers, direct_passthrough=True)(environ, start_response)


def huge(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """A JSON answer of HUGE_BYTES, sent as fast as the client reads."""
    piece = b" " * (1024 * 1024)

    def body() -> Iterator[bytes]:
        yield b"{"
        for _ in range(HUGE_BYTES // len(piece)):
            yield piece
        yield b"}"

    headers = [("Content-Type", "application/json"), ("Content-Length", str(HUGE_BYTES + 2))]
    return Response(body(), status=200, headers=headers, direct_passthrough=True)(environ, start_response)


class Upstream:
    """The Calendar API, misbehaving as `mode` says: `trickle` or `huge`."""

    def __init__(self) -> None:
        self.mode = "trickle"
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return (trickle if self.mode == "trickle" else huge)(environ, start_response)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class TricklingRefresh(ForwardingProxy):
    """The provider's token endpoint: forwards everything, except that refreshes trickle (and never reach the
    provider, so no refresh token is spent) while `trickling` is set."""

    def __init__(self, upstream: str) -> None:
        super().__init__()
        self._upstream = upstream
        self.trickling = False

    def upstream(self, request: Request, body: bytes) -> str:
        return self._upstream

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.trickling and b"grant_type=refresh_token" in Request(environ).get_data(cache=True):
            return trickle(environ, start_response)
        return super()._wsgi(environ, start_response)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.stop()


def timed(app: ManagedProcess, caller: Caller, label: str) -> tuple[Answer, float]:
    request = caller.request(label, caller.race.stack.emulator.stored_oauth2_user("alice"))
    started = time.monotonic()
    answer = post_call(app, request, call_headers(caller.installed, request), threading.Barrier(1))
    return answer, time.monotonic() - started


def worker_peak_rss_mib(app: ManagedProcess) -> int:
    """The largest peak resident size (VmHWM) of the app's workers, in MiB."""
    master = app.popen.pid
    peaks = []
    for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split():
        status = Path(f"/proc/{pid}/status").read_text()
        peaks.append(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) // 1024)
    return max(peaks)


def deadline_env(race: Race, **extra: str) -> dict[str, str]:
    return race.env(free_port(), HTTP_TIMEOUT=str(HTTP_TIMEOUT), CALL_DEADLINE=str(CALL_DEADLINE), **extra)


def test_an_api_that_trickles_its_answer_gets_the_apps_sentence_within_the_deadline(race: Race, upstream: Upstream) -> None:
    with race.apps("trickling-api", [deadline_env(race, GOOGLE_API_URL=upstream.url)], workers=2) as (app,):
        caller = race.connect_alice()
        answer, elapsed = timed(app, caller, "events")
        assert answer.body.get("type") == "error" and answer.body.get("text"), answer
        assert elapsed < CALL_DEADLINE + SLACK, f"the call took {elapsed:.1f} s"
        print(f"trickling API: answered in {elapsed:.2f} s (deadline {CALL_DEADLINE:g} s): {answer.body['text']}")


def test_a_huge_api_answer_is_never_read_whole(race: Race, upstream: Upstream) -> None:
    upstream.mode = "huge"
    with race.apps("huge-api", [deadline_env(race, GOOGLE_API_URL=upstream.url)], workers=1) as (app,):
        caller = race.connect_alice()
        before = worker_peak_rss_mib(app)
        answer, elapsed = timed(app, caller, "events")
        after = worker_peak_rss_mib(app)
        assert after - before < 50, f"the worker's peak memory grew from {before} to {after} MiB"
        assert answer.body.get("type") == "error" and answer.body.get("text"), answer
        assert elapsed < CALL_DEADLINE + SLACK, f"the call took {elapsed:.1f} s"
        print(f"200 MB API answer: {elapsed:.2f} s, worker peak {before} -> {after} MiB: {answer.body['text']}")


def test_a_refresh_that_trickles_under_the_lock_ends_by_the_deadline_and_frees_the_lock(race: Race) -> None:
    token = TricklingRefresh(race.provider.url)
    token.start()
    try:
        env = deadline_env(race, OAUTH2_TOKEN_URL=token.url + "/token")
        with race.apps("trickling-refresh", [env], workers=2) as (app,):
            caller = race.connect_alice()
            token.trickling = True
            started = time.monotonic()
            events, info = caller.trial(app, app)  # the second call waits for the lock the first holds
            elapsed = time.monotonic() - started
            assert events.body.get("type") == "error" and info.body.get("type") == "error", (events, info)
            assert elapsed < CALL_DEADLINE + SLACK, f"the calls took {elapsed:.1f} s"
            token.trickling = False
            caller.check(*caller.trial(app, app))  # the lock is free, and the grant was never spent
            caller.assert_grant_alive()
            print(f"trickling refresh: both calls answered in {elapsed:.2f} s: {events.body['text']} / {info.body['text']}")
    finally:
        token.stop()
