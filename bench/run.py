"""`make bench`: what a user waits for, operation by operation, against stubs `BENCH_DELAY_MS` away (default 50).

Prints every figure and a PASS/FAIL line per target, writes the report to artifacts/bench/<UTC time>.md, and exits
non-zero when a target fails. `--docs` (`make bench-docs`) also refreshes the marked section of
docs/performance.md from that run; without it the tracked page is never touched.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from . import stubs
from .latency import REPO, BenchFailure, Gunicorn, Measurement, measure
from .operations import APP_SECRET, CLIENT_ID, Workload, build_operations
from .targets import SYMBOL, Target

DOC = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def delay_ms() -> float:
    raw = os.environ.get("BENCH_DELAY_MS", "").strip() or "50"
    if not raw.replace(".", "", 1).isdigit():
        raise SystemExit(f"bench: BENCH_DELAY_MS must be a number of milliseconds, not {raw!r}")
    return float(raw)


def machine() -> str:
    cpus = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpus if ln.startswith("model name")), "unknown CPU")
    git = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True, check=False)
    return (
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC at commit {git.stdout.strip() or 'unknown'}, on {os.cpu_count()} "
        f"CPUs ({cpu}), Linux {platform.release()}, Python {platform.python_version()}; everything on 127.0.0.1."
    )


def targets(measured: Sequence[Measurement], failure: str) -> list[Target]:
    found = []
    for m in measured:
        op = m.operation
        note = f"does not count: it {'; '.join(m.problems)}" if m.problems else " → ".join(r.name for r in m.chain)
        name = f"{op.name}: sequential round trips on the wait"
        found.append(Target(name, len(m.chain), op.comparison, op.target, note=note, valid=not m.problems))
        if op.name == "oauth2/complete":
            dm = sum(r.kind in (stubs.OPEN_DM, stubs.POST_DM) for r in m.split.on_the_wait)
            found.append(Target("oauth2/complete: requests of the confirmation DM on the wait", dm, "==", 0))
    opened = {m.operation.name: sum(m.new_connections.values()) for m in measured}
    note = ", ".join(f"{name}: {n}" for name, n in opened.items() if n)
    found.append(
        Target("new TCP connections to the stubs, every operation after its warm-up", sum(opened.values()), "==", 0, note)
    )
    return found + ([Target(f"the bench ran to the end ({failure})", None, "==", 0)] if failure else [])


def markdown(header: str, measured: Sequence[Measurement], found: Sequence[Target], delay: float) -> str:
    lines = [header, "", f"### What the user waits for (every stub request takes {delay:g} ms)", ""]
    lines += [
        "| operation | wait ms | sequential | target | on the wait | not waited on | new conns |",
        "|---|--:|--:|--:|---|---|--:|",
    ]
    for m in measured:
        op, problems = m.operation, f" **{'; '.join(m.problems)}**" if m.problems else ""
        lines.append(
            f"| {op.name} | {m.wait_ms:.1f} | {len(m.chain)} | {SYMBOL[op.comparison]} {op.target} "
            f"| {m.timeline(m.split.on_the_wait)}{problems} | {m.timeline(m.not_waited_on)} | {sum(m.new_connections.values())} |"
        )
    lines += ["", "### Targets", "", "| target | measured | target | result | note |", "|---|--:|--:|---|---|"]
    lines += ["| {} | {} | {} | **{}** | {} |".format(*t.cells()) for t in found]
    return "\n".join([*lines, "", f"{sum(t.passed for t in found)} of {len(found)} targets pass."])


def refresh_doc(report: str, doc: Path = DOC) -> None:
    """Replace what is between the markers with `report` (the markers must be there)."""
    head, rest = doc.read_text(encoding="utf-8").split(BEGIN, 1)
    doc.write_text(f"{head}{BEGIN}\n{report}\n{END}{rest.split(END, 1)[1]}", encoding="utf-8")


def main(argv: list[str]) -> int:
    docs, delay, header = argv == ["--docs"], delay_ms(), machine()
    if argv not in ([], ["--docs"]):
        raise SystemExit("usage: python -m bench.run [--docs]")
    print(f"bench: {header} The stubs add {delay:g} ms to every request.", flush=True)
    provider, plain = (
        stubs.ProviderStub(client_id=CLIENT_ID, plain=plain, delay=delay / 1000).start() for plain in (False, True)
    )
    mattermost = stubs.MattermostStub(delay=delay / 1000).start()
    servers: list[stubs.StubServer] = [provider, plain, mattermost]
    apps: list[Gunicorn] = []
    measured: list[Measurement] = []
    failure = ""

    def app_env(p: stubs.ProviderStub, **more: str) -> dict[str, str]:
        return {
            "OAUTH2_AUTHORIZE_URL": p.url + stubs.AUTHORIZE_PATH,
            "OAUTH2_TOKEN_URL": p.url + stubs.TOKEN_PATH,
            "OAUTH2_REVOKE_URL": p.url + stubs.REVOKE_PATH,
            "OAUTH2_USERINFO_URL": p.url + stubs.USERINFO_PATH,
            "OAUTH2_ISSUER": p.url,  # the `iss` of the provider stub's ID tokens
            "APP_SECRET": APP_SECRET,  # and no TOKEN_ENCRYPTION_KEY: derived from it, as in a default deployment
            "MATTERMOST_SITE_URL": mattermost.url,  # the bench calls the app directly: there is no install to pin it
            **more,
        }

    try:
        logs = Path(tempfile.mkdtemp(prefix="bench-"))
        apps.append(Gunicorn(app_env(provider), logs / "app.log"))
        # Told that its provider rotates, as an admin would: it re-reads the record inside the refresh lock.
        apps.append(Gunicorn(app_env(plain, OAUTH2_ROTATES_REFRESH_TOKENS="true"), logs / "plain.log"))
        work, plain_work = Workload(apps[0].url, provider, mattermost), Workload(apps[1].url, plain, mattermost)
        for w in (work, plain_work):
            w.learn_commands()
        for op in build_operations(work, plain_work):
            measured.append(m := measure(op, servers, quiet=max(0.1, 2 * delay / 1000) + 0.05))
            problems = f"; PROBLEM: {'; '.join(m.problems)}" if m.problems else ""
            print(f"bench: {op.name:<48} wait {m.wait_ms:7.1f} ms, {len(m.chain)} sequential{problems}", flush=True)
    except BenchFailure as exc:
        failure = (str(exc).strip().splitlines() or ["failed"])[0]
        print(f"bench: FAIL: {exc}", file=sys.stderr)
    finally:
        for app in apps:
            app.stop()
        for server in servers:
            server.stop()

    found = targets(measured, failure)
    report = markdown(header, measured, found, delay)
    print("\n" + report + "\n\n" + "\n".join("{3}  {0}: {1} (target {2}) {4}".format(*t.cells()) for t in found))
    path = REPO / "artifacts" / "bench" / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report + "\n", encoding="utf-8")
    print(f"\nbench: wrote {path.relative_to(REPO)}")
    if docs:
        refresh_doc(report)
        print(f"bench: refreshed the marked section of {DOC.relative_to(REPO)} from this run")
    failed = [t for t in found if not t.passed]
    print(f"bench: {'FAIL' if failed else 'PASS'}: {len(found) - len(failed)} of {len(found)} targets pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
