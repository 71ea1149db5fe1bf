"""`make bench`: the app beside bare Flask under the same gunicorn settings, round trips per operation, memory
and start-up, all in one run on 127.0.0.1. Prints Markdown tables, PASS/FAIL per target, and refreshes the
marked section of docs/performance.md. Exits non-zero on any FAIL.

Environment knobs (defaults in brackets): BENCH_SECONDS [2] per wrk round, BENCH_ROUNDS [6] rounds per
endpoint and server (alternating which goes first), BENCH_NO_DOCS=1 to leave docs/performance.md alone.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from . import wrk
from .stubs import (
    AUTHORIZE_PATH,
    CALENDAR_PATH,
    EVENTS_PATH,
    IDENTITY,
    OAUTH2_USER_PATH,
    REVOKE_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
    StubServer,
    calendar_stub,
    mattermost_stub,
    provider_stub,
)
from .workload import APP_SECRET, REPO, Call, Workload

SECONDS = float(os.environ.get("BENCH_SECONDS", "2"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "6"))
WARMUP_SECONDS = 1.0
THREADS, CONNECTIONS = 2, 16
WORKERS = 2
TARGET_RATIO = 0.70
DOC = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

READ_USER = f"GET {OAUTH2_USER_PATH}"
STORE_USER = f"POST {OAUTH2_USER_PATH}"
REFRESH = f"POST {TOKEN_PATH} (refresh_token)"


class BenchFailure(Exception):
    """The bench cannot produce meaningful figures (a server did not start, an answer was an error...)."""


# -- processes ----------------------------------------------------------------------------------------


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BenchFailure("wrk is missing: install it (Debian: apt-get install wrk).")
    print("bench: installing wrk (apt-get)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env, stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    startup_s: float = 0.0

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def worker_cpu_seconds(self) -> float:
        """User + system CPU time of all the gunicorn workers so far."""
        ticks = 0
        for pid in self.worker_pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        return ticks / os.sysconf("SC_CLK_TCK")

    def worker_rss_mib(self) -> float:
        """The largest VmRSS among the gunicorn workers."""
        sizes = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        if not sizes:
            raise BenchFailure(f"{self.name}: no gunicorn worker found")
        return max(sizes)

    def log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_gunicorn(name: str, app_spec: str, env: dict[str, str], workdir: Path) -> Server:
    """`gunicorn <app_spec>` from the repository root, so it reads gunicorn.conf.py; timed to the first 200."""
    port = free_port()
    full_env = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(WORKERS)}
    log_path = workdir / f"{name}.log"
    gunicorn = Path(sys.executable).parent / "gunicorn"
    with log_path.open("wb") as log:
        started = time.monotonic()
        proc = subprocess.Popen([str(gunicorn), app_spec], cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(name, f"http://127.0.0.1:{port}", proc, log_path)
    deadline = started + 30
    while True:
        if proc.poll() is not None:
            raise BenchFailure(f"{name} exited with {proc.returncode} before answering:\n{server.log_tail()}")
        try:
            if requests.get(server.url + "/manifest.json", timeout=1).status_code == 200:
                server.startup_s = time.monotonic() - started
                return server
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise BenchFailure(f"{name} did not answer /manifest.json within 30 s:\n{server.log_tail()}")
        time.sleep(0.01)


@contextmanager
def running(stop: Callable[[], None]) -> Iterator[None]:
    try:
        yield
    finally:
        stop()


# -- checking answers ---------------------------------------------------------------------------------


def post(base_url: str, call: Call) -> requests.Response:
    return requests.post(base_url + call.path, data=call.body.encode(), headers=call.headers, timeout=10)


def call_ok(base_url: str, call: Call, check: Callable[[dict[str, Any]], bool] = lambda _: True) -> requests.Response:
    """POST the call; fail loudly unless it is HTTP 200 with an `ok` CallResponse that passes `check`."""
    response = post(base_url, call)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code != 200 or not isinstance(answer, dict) or answer.get("type") != "ok" or not check(answer):
        raise BenchFailure(
            f"POST {call.path} did not answer a correct CallResponse: HTTP {response.status_code} {response.text[:500]}"
        )
    return response


def sub_command_labels(answer: dict[str, Any]) -> list[str]:
    try:
        return [b["label"] for b in answer["data"][0]["bindings"][0]["bindings"]]
    except (KeyError, IndexError, TypeError):
        return []


# -- the phases ---------------------------------------------------------------------------------------


@dataclass
class Endpoint:
    path: str
    call: Call
    check: Callable[[dict[str, Any]], bool]
    results: dict[str, list[wrk.LoadResult]] = field(default_factory=lambda: {"bare Flask": [], "app": []})
    cpu_us: dict[str, list[float]] = field(default_factory=lambda: {"bare Flask": [], "app": []})

    def best(self, server: str) -> wrk.LoadResult:
        """The round with the most req/s: other work on the machine only ever slows a round down, so the best
        round is the closest to the server's own capacity (timeit's reasoning for taking the minimum)."""
        return max(self.results[server], key=lambda r: r.rps)

    def median_cpu_us(self, server: str) -> float:
        return statistics.median(self.cpu_us[server])

    def errors(self, server: str) -> int:
        return sum(r.errors for r in self.results[server])

    def ratio(self) -> float:
        return self.best("app").rps / self.best("bare Flask").rps

    def cpu_ratio(self) -> float:
        return self.median_cpu_us("bare Flask") / self.median_cpu_us("app")


@dataclass
class Operation:
    name: str
    expected: Counter[str]
    measured: Counter[str]

    @property
    def as_expected(self) -> bool:
        return self.measured == self.expected


def count_round_trips(
    app_url: str,
    stubs: list[StubServer],
    name: str,
    call: Call,
    expected: dict[str, int],
    *,
    check: Callable[[dict[str, Any]], bool] = lambda _: True,
) -> Operation:
    for stub in stubs:
        stub.log.reset()
    call_ok(app_url, call, check)
    measured: Counter[str] = Counter()
    for stub in stubs:
        for key, n in stub.log.snapshot().items():
            measured[f"{stub.name}: {key}"] += n
    return Operation(name, Counter(expected), measured)


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "wrk": wrk_version.split(" Copyright")[0].strip(),
    }


def main() -> int:
    ensure_wrk()
    info = machine()
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    provider, calendar, mattermost = provider_stub().start(), calendar_stub().start(), mattermost_stub().start()
    stubs = [provider, calendar, mattermost]
    app_env = {
        "APP_SECRET": APP_SECRET,
        "LOG_LEVEL": "INFO",
        "OAUTH2_AUTHORIZE_URL": provider.url + AUTHORIZE_PATH,
        "OAUTH2_TOKEN_URL": provider.url + TOKEN_PATH,
        "OAUTH2_REVOKE_URL": provider.url + REVOKE_PATH,
        "OAUTH2_USERINFO_URL": provider.url + USERINFO_PATH,
        "GOOGLE_API_URL": calendar.url + CALENDAR_PATH,
        "TOKEN_ENCRYPTION_KEY": "",  # derived from APP_SECRET, as in a default deployment
        "MATTERMOST_SITE_URL": "",  # the site URL comes in each call's context
    }
    servers: list[Server] = []
    try:
        print(f"bench: {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, {info['wrk']}", flush=True)
        app = start_gunicorn("app", "app:app", {**app_env, "ROOT_URL": "http://127.0.0.1"}, workdir)
        servers.append(app)
        work = Workload(app_url=app.url, mattermost_url=mattermost.url)

        # 1. Correct answers first: a bench of error answers is worthless.
        endpoints = [
            Endpoint("/bindings", work.bindings(), lambda a: "info" in sub_command_labels(a)),
            Endpoint(
                "/oauth2/connect",
                work.oauth2_connect(),
                lambda a: (
                    str(a.get("data", "")).startswith(provider.url + AUTHORIZE_PATH + "?") and "code_challenge=" in a["data"]
                ),
            ),
            Endpoint("/commands/info", work.info(), lambda a: IDENTITY["email"] in str(a.get("text", ""))),
        ]
        bodies: dict[str, str] = {"GET /manifest.json": requests.get(app.url + "/manifest.json", timeout=5).text}
        for endpoint in endpoints:
            bodies[f"POST {endpoint.path}"] = call_ok(app.url, endpoint.call, endpoint.check).text
        print("bench: the app answers correct CallResponses on " + ", ".join(e.path for e in endpoints), flush=True)

        # 2. Round trips per operation, from the stubs' own logs.
        p, g, m = "provider: ", "google-api: ", "mattermost: "
        dm = {f"{m}POST /api/v4/channels/direct": 1, f"{m}POST /api/v4/posts": 1}
        operations = [
            count_round_trips(app.url, stubs, "bindings (connected user)", work.bindings(), {}),
            count_round_trips(app.url, stubs, "oauth2/connect (authorization URL)", work.oauth2_connect(), {}),
            count_round_trips(
                app.url,
                stubs,
                "oauth2/complete",
                work.oauth2_complete(),
                {f"{p}POST {TOKEN_PATH} (authorization_code)": 1, f"{p}GET {USERINFO_PATH}": 1, f"{m}{STORE_USER}": 1, **dm},
            ),
            count_round_trips(app.url, stubs, "info, fresh token", work.info(), {f"{p}GET {USERINFO_PATH}": 1}),
            count_round_trips(app.url, stubs, "events, fresh token", work.events(), {f"{g}GET {EVENTS_PATH}": 1}),
            count_round_trips(
                app.url,
                stubs,
                "info, stale token",
                work.info(stale=True, tag="stale"),
                {f"{p}{REFRESH}": 1, f"{m}{STORE_USER}": 1, f"{p}GET {USERINFO_PATH}": 1},
            ),
            count_round_trips(
                app.url, stubs, "disconnect", work.disconnect(), {f"{p}POST {REVOKE_PATH}": 1, f"{m}{STORE_USER}": 1}
            ),
        ]

        # 3. The baseline: bare Flask with the app's exact answers on the same paths.
        bodies_path = workdir / "bare-bodies.json"
        bodies_path.write_text(json.dumps(bodies), encoding="utf-8")
        bare = start_gunicorn("bare Flask", "bench.bare_app:app", {"BENCH_BARE_BODIES": str(bodies_path)}, workdir)
        servers.append(bare)
        for endpoint in endpoints:
            if post(bare.url, endpoint.call).text != bodies[f"POST {endpoint.path}"]:
                raise BenchFailure(f"bare Flask does not answer the app's bytes on {endpoint.path}")
        if requests.get(bare.url + "/manifest.json", timeout=5).text != bodies["GET /manifest.json"]:
            raise BenchFailure("bare Flask does not answer the app's bytes on /manifest.json")
        by_name = {"app": app, "bare Flask": bare}

        # 4. Load, side by side: warm-up, then rounds alternating which server goes first. The stubs' logs
        #    are read around every run of the app, so what the load cost in round trips is known too.
        under_load: Counter[str] = Counter()
        info_timed_calls = info_timed_userinfo = 0

        def load(name: str, endpoint: Endpoint, script: Path, seconds: float) -> wrk.LoadResult:
            nonlocal info_timed_calls, info_timed_userinfo
            for stub in stubs:
                stub.log.reset()
            cpu_before = by_name[name].worker_cpu_seconds()
            result = wrk.run(by_name[name].url + endpoint.path, script, seconds=seconds, threads=THREADS, connections=CONNECTIONS)
            if seconds == SECONDS:
                cpu = by_name[name].worker_cpu_seconds() - cpu_before
                endpoint.cpu_us[name].append(cpu / max(result.requests, 1) * 1e6)
            seen = Counter({f"{stub.name}: {k}": n for stub in stubs for k, n in stub.log.snapshot().items()})
            under_load.update(seen)
            if name == "app" and endpoint.path == "/commands/info" and seconds == SECONDS:
                info_timed_calls += result.requests
                info_timed_userinfo += seen[f"provider: GET {USERINFO_PATH}"]
            return result

        for endpoint in endpoints:
            script = wrk.write_script(
                workdir / f"{endpoint.path.strip('/').replace('/', '_')}.lua",
                method="POST",
                body=endpoint.call.body,
                headers=endpoint.call.headers,
            )
            for name in ("bare Flask", "app"):
                warm = load(name, endpoint, script, WARMUP_SECONDS)
                if warm.errors:
                    raise BenchFailure(f"{name} {endpoint.path}: {warm.errors} errors during warm-up")
            for r in range(ROUNDS):
                for name in ("bare Flask", "app") if r % 2 == 0 else ("app", "bare Flask"):
                    result = load(name, endpoint, script, SECONDS)
                    endpoint.results[name].append(result)
                    print(
                        f"bench: {endpoint.path:<16} {name:<10} round {r + 1}: {result.rps:8.0f} req/s, "
                        f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, errors {result.errors}, "
                        f"worker CPU {endpoint.cpu_us[name][-1]:.0f} µs/req",
                        flush=True,
                    )

        # 5. Memory (after the load: warm) and start-up.
        memory = {name: server.worker_rss_mib() for name, server in by_name.items()}
    except (BenchFailure, RuntimeError) as exc:
        print(f"\nbench: FAIL: {exc}", file=sys.stderr)
        return 1
    finally:
        for server in servers:
            server.stop()
        for stub in stubs:
            stub.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    # -- report -------------------------------------------------------------------------------------
    targets: list[tuple[str, str, bool]] = []
    for endpoint in endpoints[:2]:
        ratio = endpoint.ratio()
        targets.append(
            (f"app / bare Flask throughput on `{endpoint.path}` ≥ {TARGET_RATIO:.2f}", f"{ratio:.2f}", ratio >= TARGET_RATIO)
        )
    total_errors = sum(e.errors(s) for e in endpoints for s in ("app", "bare Flask"))
    targets.append(
        ("zero errors under load (socket errors, non-200, or not an `ok` CallResponse)", str(total_errors), total_errors == 0)
    )
    reads = sum(op.measured[f"mattermost: {READ_USER}"] for op in operations) + under_load[f"mattermost: {READ_USER}"]
    targets.append((f"no operation reads `{READ_USER}`", str(reads), reads == 0))
    fresh_refreshes = sum(op.measured[f"provider: {REFRESH}"] for op in operations if "stale" not in op.name)
    fresh_refreshes += under_load[f"provider: {REFRESH}"]
    targets.append(("no operation refreshes a fresh token", str(fresh_refreshes), fresh_refreshes == 0))
    unexpected = [op.name for op in operations if not op.as_expected]
    targets.append(("round trips per operation as expected", ", ".join(unexpected) or "all", not unexpected))

    lines = [
        f"Run {info['date']} on {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, {info['wrk']}; "
        f"gunicorn gthread, {WORKERS} workers, threads from gunicorn.conf.py; everything on 127.0.0.1.",
        "",
        f"**Throughput** (wrk -t{THREADS} -c{CONNECTIONS}; {ROUNDS} rounds of {SECONDS:g} s per server, the two servers "
        "one after the other in each round, alternating which goes first). Bare Flask answers `jsonify(<the app's "
        "answer>)` on the same paths (the bench checks the bytes are the same). req/s, p50 and p99 are those of each "
        "server's best round (other work on the machine only slows a round down), and *app / bare req/s* is the "
        "ratio of the two best rounds; errors are summed over all rounds. *Worker CPU* is the gunicorn workers' user "
        "+ system time per answered request, median over the rounds: it hardly depends on what else the machine "
        "runs, so *bare / app CPU* is the steadier view of the same cost.",
        "",
        "| endpoint | server | req/s | p50 ms | p99 ms | errors | worker CPU µs/req | app / bare req/s | bare / app CPU |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for endpoint in endpoints:
        for name in ("bare Flask", "app"):
            best = endpoint.best(name)
            ratios = f"{endpoint.ratio():.2f} | {endpoint.cpu_ratio():.2f}" if name == "app" else " | "
            lines.append(
                f"| `{endpoint.path}` | {name} | {best.rps:.0f} | {best.p50_ms:.2f} | {best.p99_ms:.2f} | "
                f"{endpoint.errors(name)} | {endpoint.median_cpu_us(name):.0f} | {ratios} |"
            )
    lines += [
        "",
        "`/bindings` is for a connected user (the app decrypts the record to choose the commands); `/commands/info` "
        "makes one real round trip to the userinfo stub per call, which bare Flask does not.",
        "",
        "**Round trips per operation** (counted by the stub servers, one call each):",
        "",
        "| operation | round trips | expected | requests the stubs received |",
        "|---|--:|--:|---|",
    ]
    for op in operations:
        seen = ", ".join(f"{k}" + (f" ×{n}" if n > 1 else "") for k, n in sorted(op.measured.items())) or "none"
        lines.append(f"| {op.name} | {op.measured.total()} | {op.expected.total()} | {seen} |")
    lines += [
        "",
        f"Under load (warm-up included), the stubs received {under_load.total()} requests: "
        + (", ".join(f"{k} ×{n}" for k, n in sorted(under_load.items())) or "none")
        + ". "
        f"`/commands/info` with a fresh token: {info_timed_userinfo} userinfo requests for {info_timed_calls} answered "
        f"timed calls ({info_timed_userinfo / max(info_timed_calls, 1):.3f} per call; wrk does not count the calls "
        "still in flight when it stops).",
        "",
        "**Memory and start-up**:",
        "",
        "| server | RSS of one worker after the load (MiB) | process start → first 200 on `/manifest.json` (s) |",
        "|---|--:|--:|",
    ]
    for name, server in by_name.items():
        lines.append(f"| {name} | {memory[name]:.1f} | {server.startup_s:.2f} |")
    lines += ["", "**Targets**:", "", "| target | measured | result |", "|---|---|---|"]
    lines += [f"| {what} | {measured} | {'PASS' if ok else 'FAIL'} |" for what, measured, ok in targets]
    report = "\n".join(lines)
    print("\n" + report)

    if os.environ.get("BENCH_NO_DOCS") != "1":
        write_doc(report)
        print(f"\nbench: refreshed the marked section of {DOC.relative_to(REPO)}")
    failed = [what for what, _, ok in targets if not ok]
    if failed:
        print(f"\nbench: FAIL: {'; '.join(failed)}", file=sys.stderr)
        return 1
    print("\nbench: PASS")
    return 0


def write_doc(report: str) -> None:
    section = f"{BEGIN}\n{report}\n{END}"
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
