"""Every failure path of a refresh, over real processes: gunicorn with 2 workers, oidc-provider rotating refresh
tokens (a refresh token sent twice revokes the whole grant), the emulated Mattermost, and Redis for the lock.

Each test builds its calls as the Apps plugin does, from what Mattermost stores for the user at that moment, and
posts them straight to the app; the provider's access tokens live 2 s, so every call refreshes. The grant must
outlive every fault, the provider must never see a refresh token twice, and no user is told to connect again while
the connection is fine.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
from werkzeug.wrappers import Request, Response

from mattermost_apps.client import APPS_API_PATH
from mattermost_apps.testing import call_headers

from .harness import ForwardingProxy, free_port
from .test_refresh_race import CALL_TIMEOUT, Answer, Caller, Race, post_call
from .test_refresh_race import race as race  # noqa: PLC0414 - the fixture, shared

pytestmark = pytest.mark.e2e


class FailingStores(ForwardingProxy):
    """Mattermost as the app reaches it (MATTERMOST_SITE_URL): forwards everything to the emulator, but answers 503 to
    every store of a user's record while `failing` is set."""

    def __init__(self, upstream: str) -> None:
        super().__init__()
        self._upstream = upstream
        self.failing = False
        self.refused = 0

    def upstream(self, request: Request, body: bytes) -> str:
        return self._upstream

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.failing and environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == APPS_API_PATH + "/oauth2/user":
            self.refused += 1
            return Response(b"service unavailable", status=503)(environ, start_response)
        return super()._wsgi(environ, start_response)


@pytest.fixture
def failing_stores(race: Race) -> Iterator[FailingStores]:
    proxy = FailingStores(race.stack.emulator.site_url)
    proxy.start()
    yield proxy
    proxy.stop()


def burst(caller: Caller, label: str, app_url_process: object, count: int) -> list[Answer]:
    """`count` calls at once, on connections of their own, all built from what Mattermost stores now; the refresh of
    the stored token is held at the gate, so every call reaches the refresh lock while it is in flight."""
    stored = caller.race.stack.emulator.stored_oauth2_user("alice")
    record = caller.race.stack.stored_record("alice")
    assert record is not None and record.refresh_token, "alice's grant is gone before the burst"
    caller.race.gate.held_token = record.refresh_token
    requests_ = [caller.request(label, stored) for _ in range(count)]
    answers: list[Answer | BaseException | None] = [None] * count
    start = threading.Barrier(count, timeout=CALL_TIMEOUT)

    def call(i: int) -> None:
        try:
            answers[i] = post_call(app_url_process, requests_[i], call_headers(caller.installed, requests_[i]), start)  # type: ignore[arg-type]
        except BaseException as exc:
            answers[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(CALL_TIMEOUT + 5)
    assert all(isinstance(answer, Answer) for answer in answers), answers
    return answers  # type: ignore[return-value]


def test_a_call_that_could_not_store_a_refresh_never_refreshes(race: Race) -> None:
    """A replayed call with no user token (a bindings call posted to a command's path) on a stale record: before,
    the app refreshed, could not store, and the next call replayed the spent refresh token. Now nothing is sent to the
    provider, and the user's real calls go on."""
    with race.apps("no-user-token", [race.env(free_port())], workers=2) as (app,):
        caller = race.connect_alice()
        request = caller.request("info", caller.race.stack.emulator.stored_oauth2_user("alice"))
        request["context"]["acting_user_access_token"] = ""
        answer = post_call(app, request, call_headers(caller.installed, request), threading.Barrier(1))
        assert answer.body.get("type") == "error", answer
        assert race.gate.sent == [], "a refresh was sent for a call whose result could not be stored"
        for _ in range(3):
            caller.check(*caller.trial(app, app))
        caller.assert_grant_alive()


def test_a_rotated_record_mattermost_failed_to_store_is_used_by_the_next_call_on_any_worker(
    race: Race, failing_stores: FailingStores
) -> None:
    """Mattermost answers 503 to every store while a refresh rotates the token: the user still gets the answer, the
    new record waits beside the refresh lock, and the next calls (on either worker, built from the old record
    Mattermost still holds) store and use it rather than replay the spent token."""
    env = race.env(free_port(), MATTERMOST_SITE_URL=failing_stores.url)
    with race.apps("failing-store", [env], workers=2) as (app,):
        caller = race.connect_alice()
        before = race.stack.stored_record("alice")
        failing_stores.failing = True
        (answer,) = burst(caller, "events", app, 1)
        failing_stores.failing = False
        assert failing_stores.refused == 3, failing_stores.refused  # the store failed, retries included
        assert answer.ok, answer
        assert race.stack.stored_record("alice") == before  # Mattermost still holds the record whose token is spent
        for _ in range(4):
            assert all(answer.ok for answer in burst(caller, "info", app, 3))
        caller.assert_grant_alive()


def test_a_provider_class_silent_about_rotation_never_loses_a_grant_without_the_setting(race: Race) -> None:
    """An author's provider class that says nothing about rotation, OAUTH2_ROTATES_REFRESH_TOKENS unset, 2 workers, 6
    calls at once on a stale token, on a fresh start: before, only a worker that had seen a rotation re-read the
    stored record, the other replayed, and the grant was lost; concurrent calls were told to connect again."""
    env = race.env(free_port())
    del env["OAUTH2_ROTATES_REFRESH_TOKENS"]
    with race.apps("undeclared-rotation", [env], workers=2, wsgi_app="tests.e2e.rotating_app:app") as (app,):
        caller = race.connect_alice()
        for _ in range(3):
            answers = burst(caller, "info", app, 6)
            assert all(answer.ok for answer in answers), [a.body for a in answers if not a.ok]
        pids = {answer.pid for answer in answers}
        caller.assert_grant_alive()
        print(f"6 concurrent calls x3, served by {len(pids)} worker(s), {len(race.gate.sent)} refreshes, 0 lost")
