"""The run's targets, its Markdown report and JSON record, the files under artifacts/bench/, and the marked section
of docs/performance.md (refreshed only when asked: `make bench-docs`)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .latency import Measurement, Operation
from .session_overhead import APP_SESSION, PLAIN_SESSION, SessionOverhead
from .stubs import OPEN_DM, POST_DM
from .targets import Target
from .throughput import APP, BARE, LEAST_CORRECT, SERVERS, Throughput
from .workload import REPO

THROUGHPUT_TARGET = 0.8
THROUGHPUT_TARGET_PATHS = ("/bindings", "/oauth2/connect")
DOC = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

# Sequential round trips on the wait of the app before the latency work (commit ce1c3ad), measured by this bench.
BEFORE = {
    "bindings (connected user)": 0,
    "oauth2/connect": 0,
    "oauth2/complete": 5,
    "oauth2/complete, no ID token in the token answer": 5,
    "info, fresh token": 1,
    "info, stale token, provider does not rotate": 3,
    "info, stale token, provider rotates": 3,
    "events, fresh token": 1,
    "events, stale token, provider does not rotate": 3,
    "events, stale token, provider rotates": 3,
    "disconnect": 2,
}


@dataclass
class Run:
    """Everything one run measured; a phase that could not run leaves its part empty and says why in `failures`."""

    machine: dict[str, str]
    knobs: dict[str, Any]
    operations: list[Operation]
    measurements: list[Measurement] = field(default_factory=list)
    throughput: Throughput | None = None
    session: SessionOverhead | None = None
    failures: list[str] = field(default_factory=list)
    app_env: dict[str, dict[str, str]] = field(default_factory=dict)


# -- targets ------------------------------------------------------------------------------------------


def targets(run: Run) -> list[Target]:
    found: list[Target] = []
    measured = {m.operation.name: m for m in run.measurements}
    for op in run.operations:
        m = measured.get(op.name)
        if m is None:
            found.append(Target(f"{op.name}: sequential round trips on the wait", math.nan, op.comparison, op.target))
            continue
        note = "; ".join(m.problems)
        found.append(
            Target(
                f"{op.name}: sequential round trips on the wait",
                float(m.sequential),
                op.comparison,
                op.target,
                note=f"does not count: it {note}" if note else " → ".join(r.name for r in m.chain),
                valid=not m.problems,
            )
        )
        if op.store_first:
            found.append(
                Target(
                    f"{op.name}: sequential round trips on the wait before the store (clear first)",
                    float(m.before_store) if m.before_store is not None else math.nan,
                    "==",
                    0,
                )
            )
    complete = measured.get("oauth2/complete")
    if complete is not None:
        dm_waited = sum(1 for r in complete.on_the_wait if r.kind in (OPEN_DM, POST_DM))
        found.append(Target("oauth2/complete: requests of the confirmation DM on the wait", float(dm_waited), "==", 0))
    if run.measurements:
        opened = {m.operation.name: m.new_connection_count for m in run.measurements if m.new_connection_count}
        found.append(
            Target(
                "new TCP connections to the stubs, all operations after their warm-up",
                float(sum(opened.values())) if len(run.measurements) == len(run.operations) else math.nan,
                "==",
                0,
                note=", ".join(f"{name}: {n}" for name, n in opened.items()),
            )
        )
    else:
        found.append(Target("new TCP connections to the stubs, all operations after their warm-up", math.nan, "==", 0))

    endpoints = {e.path: e for e in run.throughput.endpoints} if run.throughput else {}
    for path in THROUGHPUT_TARGET_PATHS:
        e = endpoints.get(path)
        ratio = e.ratio(APP, LEAST_CORRECT) if e else math.nan
        found.append(Target(f"throughput on `{path}`, app / least-correct (medians)", ratio, ">=", THROUGHPUT_TARGET, digits=4))
    errors = sum(e.errors(s) for e in endpoints.values() for s in SERVERS) if endpoints else math.nan
    found.append(Target("errors under load, all servers and rounds (socket, non-200, not `ok`)", float(errors), "==", 0))
    for failure in run.failures:
        found.append(Target(f"the bench ran to the end ({failure})", math.nan, "==", 0))
    return found


# -- Markdown -----------------------------------------------------------------------------------------


def markdown(run: Run, found: Sequence[Target]) -> str:
    k = run.knobs
    mach = run.machine
    lines = [
        f"Run {mach['date']} on {mach['nproc']} CPUs ({mach['cpu']}), {mach['os']}, Python {mach['python']}, {mach['wrk']}; "
        f"everything on 127.0.0.1. Knobs: BENCH_DELAY_MS={k['delay_ms']:g}, BENCH_ROUNDS={k['rounds']}, "
        f"BENCH_SECONDS={k['seconds']:g}, BENCH_SESSION_REQUESTS={k['session_requests']}, "
        f"BENCH_SESSION_ROUNDS={k['session_rounds']}.",
        "",
    ]
    lines += _latency(run)
    lines += _before_after(run)
    lines += _throughput(run)
    lines += _session(run)
    lines += ["### Targets", "", "| target | measured | target | result | note |", "|---|--:|--:|---|---|"]
    lines += [f"| {t.name} | {t.shown()} | {t.expected} | **{t.verdict}** | {t.note} |" for t in found]
    passed = sum(t.passed for t in found)
    lines += ["", f"{passed} of {len(found)} targets pass."]
    return "\n".join(lines)


def _latency(run: Run) -> list[str]:
    lines = [
        f"### What the user waits for (every stub request takes {run.knobs['delay_ms']:g} ms)",
        "",
        "One call each after a warm-up call. *Wait*: from sending the call to the whole answer, as the plugin waits. "
        "*On the wait*: the upstream requests that ended before the answer arrived; *sequential*: the longest chain "
        "of them, each starting after the previous one ended. *Not waited on*: requests still running when the "
        "answer arrived, or started after it (a DM sent in the background). Requests are shown as "
        "`name start–end`, in ms from the moment the call was sent. *New conns*: TCP connections the stubs "
        "accepted during the call and what followed it.",
        "",
        "| operation | wait ms | sequential | target | on the wait | not waited on | new conns |",
        "|---|--:|--:|--:|---|---|--:|",
    ]
    for m in run.measurements:
        op = m.operation
        symbol = {"<=": "≤", ">=": "≥", "==": "="}[op.comparison]
        problems = f" **{'; '.join(m.problems)}**" if m.problems else ""
        lines.append(
            f"| {op.name} | {m.wait_ms:.1f} | {m.sequential} | {symbol} {op.target} | {m.timeline(m.on_the_wait)}{problems} "
            f"| {m.timeline(m.not_waited_on)} | {m.new_connection_count} |"
        )
    return [*lines, ""]


def _before_after(run: Run) -> list[str]:
    measured = {m.operation.name: m for m in run.measurements}
    lines = [
        "### Sequential round trips per operation, before and after",
        "",
        "*Before*: the app before the latency work (commit ce1c3ad), measured by this bench. *After*: this run.",
        "",
        "| operation | before | after | target |",
        "|---|--:|--:|--:|",
    ]
    for op in run.operations:
        m = measured.get(op.name)
        after = "not measured" if m is None else str(m.sequential) + (" (wrong answer)" if m.problems else "")
        symbol = {"<=": "≤", ">=": "≥", "==": "="}[op.comparison]
        lines.append(f"| {op.name} | {BEFORE.get(op.name, '')} | {after} | {symbol} {op.target} |")
    return [*lines, ""]


def _throughput(run: Run) -> list[str]:
    t = run.throughput
    if t is None:
        return ["### Throughput", "", "Not measured: " + "; ".join(run.failures), ""]
    lines = [
        "### Throughput",
        "",
        f"wrk -t2 -c16, {t.rounds} rounds of {t.seconds:g} s per server and endpoint after a 1 s warm-up, the order of "
        f"the three servers rotating from round to round; gunicorn with {t.to_json()['workers']} workers and "
        "gunicorn.conf.py for all three. Figures are medians over the rounds; *errors* are summed over them. "
        "*least-correct* verifies the call's JWT with PyJWT and parses the CallRequest JSON, then answers the "
        "app's bytes; *bare Flask* answers them with no work at all. *Worker CPU*: the gunicorn workers' user + "
        "system time per answered request, which hardly depends on what else the machine runs.",
        "",
        "| endpoint | server | req/s (median) | req/s per round | p50 ms | p99 ms | errors | worker CPU µs/req |",
        "|---|---|--:|---|--:|--:|--:|--:|",
    ]
    for e in t.endpoints:
        for name in SERVERS:
            rounds = " ".join(f"{r.rps:.0f}" for r in e.results[name])
            lines.append(
                f"| `{e.path}` | {name} | {e.median_rps(name):.0f} | {rounds} | {e.median_p50_ms(name):.2f} | "
                f"{e.median_p99_ms(name):.2f} | {e.errors(name)} | {e.median_cpu_us(name):.0f} |"
            )
    lines += [
        "",
        "Ratios of the medians, unrounded in the JSON. The last column is the same comparison in worker CPU time per "
        "request (least-correct's over the app's), for a second view when req/s moved a lot from round to round.",
        "",
        "| endpoint | app / least-correct | app / bare Flask | least-correct / bare Flask | CPU: least-correct / app |",
        "|---|--:|--:|--:|--:|",
    ]
    for e in t.endpoints:
        lines.append(
            f"| `{e.path}` | {e.ratio(APP, LEAST_CORRECT):.4f} | {e.ratio(APP, BARE):.4f} | {e.ratio(LEAST_CORRECT, BARE):.4f} "
            f"| {e.cpu_ratio(LEAST_CORRECT, APP):.4f} |"
        )
    lines += [
        "",
        "| server | start → first 200 on `/manifest.json` (s) | RSS of one worker after the load (MiB) |",
        "|---|--:|--:|",
    ]
    for name, server in t.servers.items():
        lines.append(f"| {name} | {server.startup_s:.2f} | {t.memory_mib[name]:.1f} |")
    return [*lines, ""]


def _session(run: Run) -> list[str]:
    s = run.session
    if s is None:
        return ["### Per-request overhead in `requests`", "", "Not measured: " + "; ".join(run.failures), ""]
    gain = s.median_wall_us(PLAIN_SESSION) - s.median_wall_us(APP_SESSION)
    return [
        "### Per-request overhead in `requests`",
        "",
        f"{s.requests_per_round} sequential GETs per round to a loopback stub with no delay (a process of its own), "
        f"{s.rounds} rounds alternating which session goes first; medians. *Client CPU*: the calling thread's CPU "
        "time per request (`time.thread_time`), the client's own work.",
        "",
        "| session | wall µs/request | client CPU µs/request |",
        "|---|--:|--:|",
        f'| `mattermost_apps.http.new_session(user_agent="bench")` | {s.median_wall_us(APP_SESSION):.1f} | '
        f"{s.median_cpu_us(APP_SESSION):.1f} |",
        f"| plain `requests.Session()`, same retry adapter | {s.median_wall_us(PLAIN_SESSION):.1f} | "
        f"{s.median_cpu_us(PLAIN_SESSION):.1f} |",
        "",
        f"plain / new_session: wall {s.wall_ratio:.4f}, client CPU {s.cpu_ratio:.4f} "
        f"(plain − new_session: {gain:.1f} µs of wall time per request).",
        "",
    ]


# -- JSON, artifacts and the docs page ------------------------------------------------------------------


def record(run: Run, found: Sequence[Target]) -> dict[str, Any]:
    return {
        "machine": run.machine,
        "knobs": run.knobs,
        "app_env": run.app_env,
        "targets": [t.to_json() for t in found],
        "passed": all(t.passed for t in found),
        "operations": [m.to_json() for m in run.measurements],
        "before": BEFORE,
        "throughput": run.throughput.to_json() if run.throughput else None,
        "session_overhead": run.session.to_json() if run.session else None,
        "failures": run.failures,
    }


def write_artifacts(stamp: str, report: str, data: dict[str, Any], directory: Path = REPO / "artifacts" / "bench") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{stamp}.md").write_text(report + "\n", encoding="utf-8")
    (directory / f"{stamp}.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return directory / f"{stamp}.md"


def refresh_doc(report: str, doc: Path = DOC) -> None:
    """Replace what is between the markers with `report`; append the section when the markers are missing."""
    section = f"{BEGIN}\n{report}\n{END}"
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Performance\n\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    doc.write_text(text, encoding="utf-8")
