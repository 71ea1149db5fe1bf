"""What a user waits for: each operation called once after a warm-up call, timed as the plugin waits for it, with
its upstream round trips read from the stubs' logs (bench/critical_path.py says which ones count).

The caller is a plain `http.client` connection, connected before the clock starts (the plugin keeps its
connections to the app alive). The response counts as received when its status line and headers arrive: the
app builds the whole answer before it sends the first byte of it. After each call the bench waits until every
stub has been idle for a while, so what the app does in the background is seen too, and so the next call
starts from quiet stubs.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .critical_path import around, longest_chain, split_at_response
from .servers import BenchFailure
from .stubs import STORE, Logged, StubServer, short_name
from .targets import Comparison
from .workload import Call

SETTLE_TIMEOUT_S = 10.0
CALL_TIMEOUT_S = 15.0

Answer = dict[str, Any]


@dataclass(frozen=True)
class Operation:
    """One thing a user waits for, and what it must cost.

    `check` says what is wrong with the answer ("" when nothing is). `needs`: requests the operation must make
    (before or after its answer) to do its job; `forbids`: requests it must not make. `setup` wraps the warm-up
    and the timed call (e.g. a provider that sends no ID token); `prepare(call)` runs before each call (e.g.
    Mattermost holds the record the call carries); `verify()` runs after the timed call ("" when all is well).
    `store_first`: nothing on the wait may come before the store (disconnect clears the record first).
    """

    name: str
    app: str
    build: Callable[[], Call]
    comparison: Comparison
    target: int
    check: Callable[[Answer], str] = lambda _answer: ""
    needs: tuple[str, ...] = ()
    forbids: tuple[str, ...] = ()
    setup: Callable[[], AbstractContextManager[None]] = nullcontext
    prepare: Callable[[Call], None] = lambda _call: None
    verify: Callable[[], str] = lambda: ""
    store_first: bool = False


@dataclass
class Measurement:
    operation: Operation
    sent: float  # bench clock
    received: float  # status line and headers read
    done: float  # the whole answer read
    on_the_wait: list[Logged]  # ended before the response was received
    still_running: list[Logged]  # started before it, ended after it
    after_response: list[Logged]  # started after it
    chain: list[Logged]
    new_connections: dict[str, int]
    problems: list[str] = field(default_factory=list)
    before_store: int | None = None  # sequential round trips on the wait that ended before the store started

    @property
    def wait_ms(self) -> float:
        return (self.done - self.sent) * 1000

    @property
    def not_waited_on(self) -> list[Logged]:
        return sorted(self.still_running + self.after_response, key=lambda r: r.start)

    @property
    def sequential(self) -> int:
        return len(self.chain)

    @property
    def new_connection_count(self) -> int:
        return sum(self.new_connections.values())

    def offset_ms(self, at: float) -> float:
        return (at - self.sent) * 1000

    def timeline(self, requests: Sequence[Logged]) -> str:
        """`name start–end` in ms from the moment the call was sent, in the order they started."""
        return ", ".join(f"{r.name} {self.offset_ms(r.start):.0f}–{self.offset_ms(r.end):.0f}" for r in requests) or "none"

    def to_json(self) -> dict[str, Any]:
        def spans(requests: Sequence[Logged]) -> list[dict[str, Any]]:
            return [
                {
                    "stub": r.stub,
                    "request": r.kind,
                    "status": r.status,
                    "connection": r.connection,
                    "start_ms": round(self.offset_ms(r.start), 3),
                    "end_ms": round(self.offset_ms(r.end), 3),
                }
                for r in requests
            ]

        return {
            "operation": self.operation.name,
            "wait_ms": round(self.wait_ms, 3),
            "response_received_ms": round(self.offset_ms(self.received), 3),
            "sequential_round_trips": self.sequential,
            "target": f"{self.operation.comparison} {self.operation.target}",
            "critical_path": [r.kind for r in self.chain],
            "on_the_wait": spans(self.on_the_wait),
            "still_running_at_response": spans(self.still_running),
            "after_response": spans(self.after_response),
            "new_connections": self.new_connections,
            "before_store": self.before_store,
            "problems": self.problems,
        }


def post(app_url: str, call: Call, *, timeout: float = CALL_TIMEOUT_S) -> tuple[float, float, float, int, bytes]:
    """(sent, headers received, body read, status, body), on a connection opened before `sent`."""
    parts = urlsplit(app_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    conn.connect()
    try:
        sent = time.monotonic()
        conn.request("POST", call.path, body=call.body.encode(), headers=call.headers)
        response = conn.getresponse()
        received = time.monotonic()
        body = response.read()
        done = time.monotonic()
    finally:
        conn.close()
    return sent, received, done, response.status, body


def settle(stubs: Sequence[StubServer], *, quiet: float) -> None:
    """Wait until no stub has a request in flight and none has done anything for `quiet` seconds."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        idle = [stub.log.idle_since() for stub in stubs]
        if all(at is not None for at in idle) and time.monotonic() - max(at or 0.0 for at in idle) >= quiet:
            return
        time.sleep(0.005)
    raise BenchFailure(f"the stubs were still busy {SETTLE_TIMEOUT_S:.0f} s after a call")


def measure(operation: Operation, app_url: str, stubs: Sequence[StubServer], *, quiet: float) -> Measurement:
    """One warm-up call, then the timed one."""
    with operation.setup():
        _call_once(operation, app_url, stubs, quiet=quiet)
        measured = _call_once(operation, app_url, stubs, quiet=quiet)
        problem = operation.verify()
    if problem:
        measured.problems.append(problem)
    return measured


def _call_once(operation: Operation, app_url: str, stubs: Sequence[StubServer], *, quiet: float) -> Measurement:
    call = operation.build()
    operation.prepare(call)
    settle(stubs, quiet=quiet)
    no_answer = ""
    try:
        sent, received, done, status, body = post(app_url, call)
    except (OSError, http.client.HTTPException) as exc:  # a hung worker, a crash: say so, and go on to the next
        sent = received = done = time.monotonic()
        status, body, no_answer = 0, b"", f"got no answer ({type(exc).__name__})"
    settle(stubs, quiet=quiet)
    requests = [r for stub in stubs for r in stub.log.requests_since(sent)]
    split = split_at_response(requests, received)
    on_the_wait = split.on_the_wait
    measurement = Measurement(
        operation,
        sent,
        received,
        done,
        on_the_wait,
        split.still_running,
        split.after,
        longest_chain(on_the_wait),
        {stub.name: stub.log.connections_since(sent) for stub in stubs},
    )
    measurement.problems += [no_answer] if no_answer else _answer_problems(operation, status, body)
    kinds = {r.kind for r in requests}
    measurement.problems += [f"made no {short_name(k)} request" for k in operation.needs if k not in kinds]
    measurement.problems += [f"made a {short_name(k)} request it must not make" for k in operation.forbids if k in kinds]
    measurement.problems += [f"{r.stub} answered {r.name} with HTTP {r.status}" for r in requests if r.status >= 400]
    if operation.store_first:
        stores = [r for r in on_the_wait if r.kind == STORE]
        if stores:
            measurement.before_store = around(on_the_wait, stores[0])[0]
        else:
            measurement.problems.append("did not store (clear) the record before answering")
    return measurement


def _answer_problems(operation: Operation, status: int, body: bytes) -> list[str]:
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if status != 200 or not isinstance(answer, dict) or answer.get("type") != "ok":
        return [f"answered HTTP {status} {body[:300].decode(errors='replace')}"]
    wrong = operation.check(answer)
    return [f"answered {wrong}"] if wrong else []


def run_all(
    operations: Sequence[Operation], app_urls: dict[str, str], stubs: Sequence[StubServer], *, quiet: float
) -> Iterator[Measurement]:
    for operation in operations:
        yield measure(operation, app_urls[operation.app], stubs, quiet=quiet)
