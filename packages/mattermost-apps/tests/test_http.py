"""The app session's limits without gevent (a threaded server, a script): the call's deadline ends a request whose
answer trickles in, and no answer is read past its size limit. (Under gevent, tests/e2e/test_deadline.py.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from mattermost_apps.http import AnswerTooLarge, DeadlinePassed, call_deadline, new_session


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """`/trickle`: headers at once, then a byte every 0.2 s for 10 s; `/huge`: 8 MiB as fast as it is read."""

    @Request.application
    def app(request: Request) -> Response:
        if request.path == "/trickle":

            def trickle() -> Iterator[bytes]:
                for _ in range(50):
                    yield b" "
                    time.sleep(0.2)

            return Response(trickle(), headers={"Content-Length": "50"}, direct_passthrough=True)
        return Response((b" " * 65536 for _ in range(128)), headers={"Content-Length": str(128 * 65536)}, direct_passthrough=True)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_trickling_answer_ends_at_the_calls_deadline(upstream: str) -> None:
    session = new_session(user_agent="test")
    started = time.monotonic()
    with call_deadline(1.0), pytest.raises(DeadlinePassed):
        session.get(upstream + "/trickle", timeout=5)
    assert time.monotonic() - started < 1.5


def test_an_answer_over_the_limit_is_never_read_whole(upstream: str) -> None:
    with pytest.raises(AnswerTooLarge):
        new_session(user_agent="test", max_answer_bytes=1 << 20).get(upstream + "/huge", timeout=5)
    assert len(new_session(user_agent="test", max_answer_bytes=16 << 20).get(upstream + "/huge", timeout=5).content) == 8 << 20
