"""Throughput beside two baselines under the same gunicorn settings, loaded with wrk in alternating rounds.

The app, *the least correct handler* and *bare Flask* (bench/bare_app.py) answer the same bytes on the same
paths; the bench checks that before loading them. Each round loads every server once, the order rotating from
round to round so that none is always first or last; each server's figure is the MEDIAN of its rounds.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from . import wrk
from .latency import Answer
from .servers import BenchFailure, Server, start_gunicorn
from .workload import Call

APP, LEAST_CORRECT, BARE = "app", "least-correct", "bare Flask"
SERVERS = (APP, LEAST_CORRECT, BARE)
THREADS, CONNECTIONS = 2, 16
WORKERS = 2
WARMUP_SECONDS = 1.0


@dataclass
class Endpoint:
    path: str
    call: Call
    check: Callable[[Answer], str]
    results: dict[str, list[wrk.LoadResult]] = field(default_factory=lambda: {name: [] for name in SERVERS})
    cpu_us: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in SERVERS})

    def median_rps(self, server: str) -> float:
        return statistics.median(r.rps for r in self.results[server])

    def median_p50_ms(self, server: str) -> float:
        return statistics.median(r.p50_ms for r in self.results[server])

    def median_p99_ms(self, server: str) -> float:
        return statistics.median(r.p99_ms for r in self.results[server])

    def median_cpu_us(self, server: str) -> float:
        return statistics.median(self.cpu_us[server])

    def errors(self, server: str) -> int:
        return sum(r.errors for r in self.results[server])

    def ratio(self, server: str, baseline: str) -> float:
        """The unrounded ratio of the two servers' median req/s."""
        return self.median_rps(server) / self.median_rps(baseline)

    def cpu_ratio(self, server: str, other: str) -> float:
        """`server`'s median worker CPU per request over `other`'s."""
        return self.median_cpu_us(server) / self.median_cpu_us(other)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "servers": {
                name: {
                    "median_rps": self.median_rps(name),
                    "rounds_rps": [r.rps for r in self.results[name]],
                    "median_p50_ms": self.median_p50_ms(name),
                    "median_p99_ms": self.median_p99_ms(name),
                    "errors": self.errors(name),
                    "median_worker_cpu_us": self.median_cpu_us(name),
                }
                for name in SERVERS
            },
            "app_over_least_correct": self.ratio(APP, LEAST_CORRECT),
            "app_over_bare": self.ratio(APP, BARE),
            "cpu_least_correct_over_app": self.cpu_ratio(LEAST_CORRECT, APP),
        }


@dataclass
class Throughput:
    endpoints: list[Endpoint]
    servers: dict[str, Server]
    memory_mib: dict[str, float]
    rounds: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "seconds_per_round": self.seconds,
            "wrk": {"threads": THREADS, "connections": CONNECTIONS},
            "workers": WORKERS,
            "endpoints": [e.to_json() for e in self.endpoints],
            "servers": {
                name: {"startup_s": server.startup_s, "worker_rss_mib": self.memory_mib[name]}
                for name, server in self.servers.items()
            },
        }


def _answer_ok(url: str, endpoint: Endpoint) -> str:
    response = requests.post(url + endpoint.path, data=endpoint.call.body.encode(), headers=endpoint.call.headers, timeout=10)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    problem = endpoint.check(answer) if isinstance(answer, dict) and answer.get("type") == "ok" else "not an ok CallResponse"
    if response.status_code != 200 or problem:
        raise BenchFailure(f"{url}{endpoint.path}: {problem}: HTTP {response.status_code} {response.text[:300]}")
    return response.text


def run(
    endpoints: Sequence[Endpoint],
    app_env: dict[str, str],
    jwt_secret: str,
    workdir: Path,
    *,
    rounds: int,
    seconds: float,
    progress: Callable[[str], None],
) -> Throughput:
    servers: dict[str, Server] = {}
    try:
        servers[APP] = start_gunicorn(APP, "app:app", app_env, workdir, workers=WORKERS)
        app_url = servers[APP].url
        bodies = {"GET /manifest.json": requests.get(app_url + "/manifest.json", timeout=5).text}
        bodies |= {f"POST {e.path}": _answer_ok(app_url, e) for e in endpoints}
        bodies_path = workdir / "bodies.json"
        bodies_path.write_text(json.dumps(bodies), encoding="utf-8")
        baseline_env = {"BENCH_BARE_BODIES": str(bodies_path), "BENCH_JWT_SECRET": jwt_secret}
        servers[LEAST_CORRECT] = start_gunicorn(
            LEAST_CORRECT, "bench.bare_app:least_correct", baseline_env, workdir, workers=WORKERS
        )
        servers[BARE] = start_gunicorn(BARE, "bench.bare_app:app", baseline_env, workdir, workers=WORKERS)
        for name in (LEAST_CORRECT, BARE):
            for endpoint in endpoints:
                if _answer_ok(servers[name].url, endpoint) != bodies[f"POST {endpoint.path}"]:
                    raise BenchFailure(f"{name} does not answer the app's bytes on {endpoint.path}")

        for endpoint in endpoints:
            script = wrk.write_script(
                workdir / f"{endpoint.path.strip('/').replace('/', '_')}.lua",
                method="POST",
                body=endpoint.call.body,
                headers=endpoint.call.headers,
            )
            for name in SERVERS:
                warm = wrk.run(
                    servers[name].url + endpoint.path, script, seconds=WARMUP_SECONDS, threads=THREADS, connections=CONNECTIONS
                )
                if warm.errors:
                    raise BenchFailure(f"{name} {endpoint.path}: {warm.errors} errors during warm-up")
            for r in range(rounds):
                order = SERVERS[r % len(SERVERS) :] + SERVERS[: r % len(SERVERS)]
                for name in order:
                    server = servers[name]
                    cpu_before = server.worker_cpu_seconds()
                    result = wrk.run(
                        server.url + endpoint.path, script, seconds=seconds, threads=THREADS, connections=CONNECTIONS
                    )
                    cpu = server.worker_cpu_seconds() - cpu_before
                    endpoint.results[name].append(result)
                    endpoint.cpu_us[name].append(cpu / max(result.requests, 1) * 1e6)
                    progress(
                        f"{endpoint.path:<16} {name:<13} round {r + 1}: {result.rps:8.0f} req/s, p50 {result.p50_ms:.2f} ms, "
                        f"p99 {result.p99_ms:.2f} ms, errors {result.errors}, worker CPU {endpoint.cpu_us[name][-1]:.0f} µs/req"
                    )
        memory = {name: server.worker_rss_mib() for name, server in servers.items()}
        return Throughput(list(endpoints), dict(servers), memory, rounds, seconds)
    finally:
        for server in servers.values():
            server.stop()
