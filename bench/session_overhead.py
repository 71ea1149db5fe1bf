"""What one outgoing request costs the app in `requests`, beyond the round trip itself.

N sequential GETs to a loopback stub with no delay, in a process of its own (so it takes no CPU from the
caller's), through the app's `mattermost_apps.http.new_session(user_agent=...)` and through a plain
`requests.Session()` with the same retry adapter. Rounds alternate which session goes first; each figure is the
median of its rounds. *Client CPU* is the calling thread's own CPU time (`time.thread_time`): the client's work
alone, what the app's worker spends, whatever the stub and the loopback cost.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from mattermost_apps.http import new_session

from .servers import BenchFailure
from .workload import REPO

APP_SESSION, PLAIN_SESSION = "new_session()", "requests.Session()"
WARMUP_REQUESTS = 100


def plain_session_like(session: requests.Session, url: str) -> requests.Session:
    """A `requests.Session()` with an adapter of the same retries and pool sizes as `session`'s, and its User-Agent."""
    adapter = session.get_adapter(url)
    if not isinstance(adapter, HTTPAdapter):
        raise BenchFailure(f"new_session() mounts a {type(adapter).__name__}, not an HTTPAdapter")
    copy = HTTPAdapter(
        max_retries=adapter.max_retries,
        pool_connections=getattr(adapter, "_pool_connections", 10),
        pool_maxsize=getattr(adapter, "_pool_maxsize", 10),
    )
    plain = requests.Session()
    plain.mount("http://", copy)
    plain.mount("https://", copy)
    plain.headers["User-Agent"] = session.headers["User-Agent"]
    return plain


@dataclass
class SessionOverhead:
    requests_per_round: int
    rounds: int
    wall_us: dict[str, list[float]] = field(default_factory=lambda: {APP_SESSION: [], PLAIN_SESSION: []})
    cpu_us: dict[str, list[float]] = field(default_factory=lambda: {APP_SESSION: [], PLAIN_SESSION: []})

    def median_wall_us(self, name: str) -> float:
        return statistics.median(self.wall_us[name])

    def median_cpu_us(self, name: str) -> float:
        return statistics.median(self.cpu_us[name])

    @property
    def wall_ratio(self) -> float:
        """plain / new_session per-request wall time: above 1, new_session() is faster."""
        return self.median_wall_us(PLAIN_SESSION) / self.median_wall_us(APP_SESSION)

    @property
    def cpu_ratio(self) -> float:
        return self.median_cpu_us(PLAIN_SESSION) / self.median_cpu_us(APP_SESSION)

    def to_json(self) -> dict[str, Any]:
        return {
            "requests_per_round": self.requests_per_round,
            "rounds": self.rounds,
            "wall_us": self.wall_us,
            "client_cpu_us": self.cpu_us,
            "median_wall_us": {name: self.median_wall_us(name) for name in self.wall_us},
            "median_client_cpu_us": {name: self.median_cpu_us(name) for name in self.cpu_us},
            "plain_over_new_session_wall": self.wall_ratio,
            "plain_over_new_session_cpu": self.cpu_ratio,
        }


def _time_gets(session: requests.Session, url: str, n: int) -> tuple[float, float]:
    """(wall µs, client CPU µs) per GET, over `n` sequential GETs."""
    wall, cpu = time.perf_counter(), time.thread_time()
    for _ in range(n):
        response = session.get(url, timeout=5)
        if response.status_code != 200:
            raise BenchFailure(f"GET {url} answered {response.status_code}")
    return (time.perf_counter() - wall) / n * 1e6, (time.thread_time() - cpu) / n * 1e6


def run(*, requests_per_round: int, rounds: int) -> SessionOverhead:
    stub = subprocess.Popen(
        [sys.executable, "-m", "bench.stubs"], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert stub.stdout is not None
        url = stub.stdout.readline().strip() + "/ping"
        if not url.startswith("http://127.0.0.1:"):
            raise BenchFailure("the ping stub did not start")
        app_session = new_session(user_agent="bench")
        sessions = {APP_SESSION: app_session, PLAIN_SESSION: plain_session_like(app_session, url)}
        for session in sessions.values():
            _time_gets(session, url, WARMUP_REQUESTS)
        result = SessionOverhead(requests_per_round, rounds)
        for r in range(rounds):
            for name in (APP_SESSION, PLAIN_SESSION) if r % 2 == 0 else (PLAIN_SESSION, APP_SESSION):
                wall, cpu = _time_gets(sessions[name], url, requests_per_round)
                result.wall_us[name].append(wall)
                result.cpu_us[name].append(cpu)
        return result
    finally:
        if stub.stdin is not None:
            stub.stdin.close()
        try:
            stub.wait(timeout=5)
        except subprocess.TimeoutExpired:
            stub.kill()
            stub.wait()
