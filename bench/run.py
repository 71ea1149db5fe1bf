"""`make bench`: what a user waits for, operation by operation, with delay-injected stubs; throughput beside an
honest baseline; the per-request overhead in `requests`. All from one run on 127.0.0.1.

Prints every figure and a PASS/FAIL line per target (judged on unrounded values), writes the same report to
artifacts/bench/<UTC time>.md and every raw figure to .json beside it, and exits non-zero when a target fails.
`--docs` (`make bench-docs`) also refreshes the marked section of docs/performance.md from that run; without
it the tracked page is never touched.

Environment knobs (defaults in brackets): BENCH_DELAY_MS [50] added by every stub to every request;
BENCH_ROUNDS [7] throughput rounds per server and endpoint (at least 3); BENCH_SECONDS [2] per round;
BENCH_SESSION_REQUESTS [1000] GETs per round and BENCH_SESSION_ROUNDS [5] for the `requests` overhead;
BENCH_APP_ENV and BENCH_ROTATING_APP_ENV, extra `NAME=value` settings (space-separated) for every app the bench
starts, and for the one whose provider rotates refresh tokens only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import latency, report, session_overhead, throughput
from .operations import GOOGLE_LIKE, ROTATING, build_operations
from .servers import BenchFailure, Server, start_gunicorn
from .stubs import (
    AUTHORIZE_PATH,
    CALENDAR_PATH,
    REVOKE_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
    MattermostStub,
    ProviderStub,
    calendar_stub,
)
from .workload import APP_SECRET, CLIENT_ID, CLIENT_SECRET, REPO, Workload

MIN_ROUNDS = 3


def knob(name: str, default: float, *, minimum: float = 0) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise SystemExit(f"bench: {name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise SystemExit(f"bench: {name} must be at least {minimum:g}, not {value:g}")
    return value


def settings_knob(name: str) -> dict[str, str]:
    pairs = [item.partition("=") for item in shlex.split(os.environ.get(name, ""))]
    if any(not key or not sep for key, sep, _ in pairs):
        raise SystemExit(f"bench: {name} must be space-separated NAME=value pairs")
    return {key: value for key, _, value in pairs}


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit("bench: wrk is missing: install it (Debian: apt-get install wrk).")
    print("bench: installing wrk (apt-get)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env, stdout=subprocess.DEVNULL)


def machine() -> dict[str, str]:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")
        )
    os_name = platform.system()
    try:
        fields = dict(ln.split("=", 1) for ln in Path("/etc/os-release").read_text().splitlines() if "=" in ln)
        os_name = fields.get("PRETTY_NAME", os_name).strip('"')
    except OSError:
        pass
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True, check=False)
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "os": f"{os_name}, Linux {platform.release()}",
        "python": platform.python_version(),
        "wrk": wrk_version.split(" Copyright")[0].strip(),
        "commit": commit.stdout.strip() or "unknown",
    }


def first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def progress(line: str) -> None:
    print(f"bench: {line}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--docs", action="store_true", help="also refresh the marked section of docs/performance.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    knobs: dict[str, Any] = {
        "delay_ms": knob("BENCH_DELAY_MS", 50),
        "rounds": int(knob("BENCH_ROUNDS", 7, minimum=MIN_ROUNDS)),
        "seconds": int(knob("BENCH_SECONDS", 2, minimum=1)),  # wrk takes whole seconds
        "session_requests": int(knob("BENCH_SESSION_REQUESTS", 1000, minimum=10)),
        "session_rounds": int(knob("BENCH_SESSION_ROUNDS", 5, minimum=1)),
    }
    extra_env, rotating_env = settings_knob("BENCH_APP_ENV"), settings_knob("BENCH_ROTATING_APP_ENV")
    ensure_wrk()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    delay = knobs["delay_ms"] / 1000
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    provider = ProviderStub(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, rotate=False, delay=delay).start()
    rotating = ProviderStub(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, rotate=True, delay=delay).start()
    calendar = calendar_stub(delay=delay).start()
    mattermost = MattermostStub(delay=delay).start()
    stubs = [provider, rotating, calendar, mattermost]
    work = Workload(app_url="http://127.0.0.1:8080", mattermost_url=mattermost.url)

    def app_env(p: ProviderStub, extra: dict[str, str]) -> dict[str, str]:
        return {
            "APP_SECRET": APP_SECRET,
            "LOG_LEVEL": "INFO",
            "OAUTH2_AUTHORIZE_URL": p.url + AUTHORIZE_PATH,
            "OAUTH2_TOKEN_URL": p.url + TOKEN_PATH,
            "OAUTH2_REVOKE_URL": p.url + REVOKE_PATH,
            "OAUTH2_USERINFO_URL": p.url + USERINFO_PATH,
            "OAUTH2_ISSUER": p.issuer,  # the `iss` of the provider stub's ID tokens
            "GOOGLE_API_URL": calendar.url + CALENDAR_PATH,
            "TOKEN_ENCRYPTION_KEY": "",  # derived from APP_SECRET, as in a default deployment
            "MATTERMOST_SITE_URL": mattermost.url,  # the bench calls the app directly: there is no install to pin it
            "ROOT_URL": "http://127.0.0.1:8080",
            **extra_env,
            **extra,
        }

    # The rotating provider's app is told so, as an admin would (it re-reads the record inside the refresh lock).
    envs = {
        GOOGLE_LIKE: app_env(provider, {}),
        ROTATING: app_env(rotating, {"OAUTH2_ROTATES_REFRESH_TOKENS": "true", **rotating_env}),
    }
    run = report.Run(
        machine(), knobs, build_operations(work, provider, rotating, mattermost), app_env={k: dict(v) for k, v in envs.items()}
    )
    progress(
        f"{run.machine['nproc']} CPUs ({run.machine['cpu']}), Python {run.machine['python']}, {run.machine['wrk']}; "
        f"stubs add {knobs['delay_ms']:g} ms to every request"
    )
    try:
        # 1. Latency, operation by operation: one worker per app, so the warm-up call warms the one that is timed.
        apps: list[Server] = []
        try:
            for name, env in envs.items():
                apps.append(start_gunicorn(f"app ({name})", "app:app", env, workdir, workers=1))
            urls = {name: server.url for name, server in zip(envs, apps, strict=True)}
            quiet = max(0.1, 2 * delay) + 0.05
            for m in latency.run_all(run.operations, urls, stubs, quiet=quiet):
                run.measurements.append(m)
                problems = f"; PROBLEM: {'; '.join(m.problems)}" if m.problems else ""
                progress(
                    f"{m.operation.name:<48} wait {m.wait_ms:7.1f} ms, {m.sequential} sequential, "
                    f"{len(m.not_waited_on)} not waited on, {m.new_connection_count} new connections{problems}"
                )
        except BenchFailure as exc:
            run.failures.append(f"latency: {first_line(exc)}")
            progress(f"FAIL: latency: {exc}")
        finally:
            for server in apps:
                server.stop()

        # 2. Throughput beside the two baselines.
        checks = {op.name: op.check for op in run.operations}
        endpoints = [
            throughput.Endpoint("/bindings", work.bindings(), checks["bindings (connected user)"]),
            throughput.Endpoint("/oauth2/connect", work.oauth2_connect(), checks["oauth2/connect"]),
        ]
        try:
            run.throughput = throughput.run(
                endpoints,
                envs[GOOGLE_LIKE],
                APP_SECRET,
                workdir,
                rounds=knobs["rounds"],
                seconds=knobs["seconds"],
                progress=progress,
            )
        except (BenchFailure, RuntimeError) as exc:
            run.failures.append(f"throughput: {first_line(exc)}")
            progress(f"FAIL: throughput: {exc}")

        # 3. The per-request overhead in `requests`.
        try:
            run.session = session_overhead.run(requests_per_round=knobs["session_requests"], rounds=knobs["session_rounds"])
        except (BenchFailure, OSError) as exc:
            run.failures.append(f"requests overhead: {first_line(exc)}")
            progress(f"FAIL: requests overhead: {exc}")
    finally:
        for stub in stubs:
            stub.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    found = report.targets(run)
    text = report.markdown(run, found)
    print("\n" + text + "\n")
    for target in found:
        print(target.line())
    path = report.write_artifacts(stamp, text, report.record(run, found))
    print(f"\nbench: wrote {path.relative_to(REPO)} and {path.with_suffix('.json').relative_to(REPO)}")
    if args.docs:
        report.refresh_doc(text)
        print(f"bench: refreshed the marked section of {report.DOC.relative_to(REPO)} from this run")
    failed = [t for t in found if not t.passed]
    if failed:
        print(f"bench: FAIL: {len(failed)} of {len(found)} targets", file=sys.stderr)
        return 1
    print(f"bench: PASS: all {len(found)} targets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
