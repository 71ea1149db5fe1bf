"""What a user waits for: each operation called once after a warm-up call, timed as the plugin waits for it, with
its upstream round trips read from the stubs' logs (bench/critical_path.py says which ones count).

The caller is a plain `http.client` connection, opened before the clock starts (the plugin keeps its connections
to the app alive). The response counts as received when its status line and headers arrive: the app builds the
whole answer before it sends the first byte. Before and after each call the bench waits until every stub has
been idle for a while, so what the app does in the background is seen too.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .critical_path import Split, longest_chain, split_at_response
from .stubs import SHORT_NAMES, Logged, StubServer
from .targets import Comparison

REPO = Path(__file__).resolve().parent.parent
Answer = dict[str, Any]


class BenchFailure(Exception):
    """The bench cannot produce meaningful figures (an app did not start, the stubs never went quiet...)."""


@dataclass(frozen=True)
class Call:
    """One HTTP call to the app: its URL, exact JSON body and headers (the JWT included)."""

    url: str
    body: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Operation:
    """One thing a user waits for, and what it may cost. `check` says what is wrong with the
    answer ("" if nothing); `needs`: requests it must make (before or after its answer) to do its job; `forbids`:
    requests it must not make; `prepare()` runs before each of the two calls (connect the user)."""

    name: str
    build: Callable[[], Call]
    comparison: Comparison
    target: int
    check: Callable[[Answer], str] = lambda _answer: ""
    needs: tuple[str, ...] = ()
    forbids: tuple[str, ...] = ()
    prepare: Callable[[], None] = lambda: None


@dataclass
class Measurement:
    operation: Operation
    sent: float  # bench clock
    received: float  # status line and headers read
    done: float  # the whole answer read
    split: Split[Logged]
    new_connections: dict[str, int]
    problems: list[str] = field(default_factory=list)

    @property
    def chain(self) -> list[Logged]:
        return longest_chain(self.split.on_the_wait)

    @property
    def wait_ms(self) -> float:
        return (self.done - self.sent) * 1000

    @property
    def not_waited_on(self) -> list[Logged]:
        return sorted(self.split.still_running + self.split.after, key=lambda r: r.start)

    def timeline(self, requests: Sequence[Logged]) -> str:
        """`name start–end` in ms from the moment the call was sent, in the order they started."""
        ms = [(r.name, (r.start - self.sent) * 1000, (r.end - self.sent) * 1000) for r in requests]
        return ", ".join(f"{name} {start:.0f}–{end:.0f}" for name, start, end in ms) or "none"


def post(call: Call, *, timeout: float = 15.0) -> tuple[float, float, float, int, bytes]:
    """(sent, headers received, body read, status, body), on a connection opened before `sent`."""
    parts = urlsplit(call.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    conn.connect()
    try:
        sent = time.monotonic()
        conn.request("POST", parts.path, body=call.body.encode(), headers=call.headers)
        response = conn.getresponse()
        received = time.monotonic()
        body = response.read()
        return sent, received, time.monotonic(), response.status, body
    finally:
        conn.close()


def answer_problem(status: int, body: bytes, check: Callable[[Answer], str]) -> str:
    """What is wrong with an answer to a call: not an `ok` CallResponse, or what `check` finds; "" if nothing."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if status != 200 or not isinstance(answer, dict) or answer.get("type") != "ok":
        return f"answered HTTP {status} {body[:300].decode(errors='replace')}"
    wrong = check(answer)
    return f"answered {wrong}" if wrong else ""


def settle(stubs: Sequence[StubServer], *, quiet: float, timeout: float = 10.0) -> None:
    """Wait until no stub has a request in flight and none has done anything for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        idle = [stub.idle_since() for stub in stubs]
        if all(at is not None for at in idle) and time.monotonic() - max(at or 0.0 for at in idle) >= quiet:
            return
        time.sleep(0.005)
    raise BenchFailure(f"the stubs were still busy {timeout:.0f} s after a call")


def measure(operation: Operation, stubs: Sequence[StubServer], *, quiet: float) -> Measurement:
    """One warm-up call, then the timed one."""
    _call_once(operation, stubs, quiet=quiet)
    return _call_once(operation, stubs, quiet=quiet)


def _call_once(operation: Operation, stubs: Sequence[StubServer], *, quiet: float) -> Measurement:
    operation.prepare()
    call = operation.build()
    settle(stubs, quiet=quiet)
    try:
        sent, received, done, status, body = post(call)
        problem = answer_problem(status, body, operation.check)
    except (OSError, http.client.HTTPException) as exc:  # a hung worker, a crash: say so, and go on to the next
        sent = received = done = time.monotonic()
        problem = f"got no answer ({type(exc).__name__})"
    settle(stubs, quiet=quiet)
    requests = [r for stub in stubs for r in stub.requests_since(sent)]
    split = split_at_response(requests, received)
    m = Measurement(operation, sent, received, done, split, {s.name: s.connections_since(sent) for s in stubs})
    kinds = {r.kind for r in requests}
    m.problems += [problem] if problem else []
    m.problems += [f"made no {SHORT_NAMES.get(k, k)} request" for k in operation.needs if k not in kinds]
    m.problems += [f"made a {SHORT_NAMES.get(k, k)} request it must not make" for k in operation.forbids if k in kinds]
    m.problems += [f"{r.stub} answered {r.name} with HTTP {r.status}" for r in requests if r.status >= 400]
    return m


class Gunicorn:
    """`gunicorn app:app` from the repository root (so it reads gunicorn.conf.py), with `env` and one worker (the
    warm-up call warms the worker that is timed); ready once `GET /manifest.json` answers."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(self.port), "WEB_CONCURRENCY": "1"}
        with log.open("wb") as out:
            gunicorn = str(Path(sys.executable).parent / "gunicorn")
            self.proc = subprocess.Popen([gunicorn, "app:app"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        for _ in range(1500):
            with contextlib.suppress(OSError), closing(http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)) as c:
                c.request("GET", "/manifest.json")
                if c.getresponse().status == 200:
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise BenchFailure("the app did not answer /manifest.json:\n" + log.read_text(errors="replace")[-3000:])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=15)
