"""Load one endpoint with wrk: a Lua script per endpoint (method, exact body, headers), and a machine-readable result.

The script's `response` hook counts every answer that is not HTTP 200 with a `"type":"ok"` CallResponse, so a
load of error answers cannot pass for a fast app; `done` prints one `BENCH_RESULT {json}` line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_LUA = """\
wrk.method = {method}
wrk.body = {body}
{headers}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"type":"ok"', 1, true) then bad = bad + 1 end
end
function done(summary, latency, requests)
  local bad_total = 0
  for _, t in ipairs(threads) do bad_total = bad_total + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {{"requests":%.0f,"duration_us":%.0f,"p50_us":%.0f,"p99_us":%.0f,' ..
    '"connect":%.0f,"read":%.0f,"write":%.0f,"timeout":%.0f,"status":%.0f,"bad_answers":%.0f}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, e.status, bad_total))
end
"""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    socket_errors: int
    bad_answers: int  # non-200, or 200 without a "type":"ok" CallResponse

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.socket_errors + self.bad_answers


def lua_string(text: str) -> str:
    """A Lua long-bracket literal holding `text` verbatim."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]" if not text.startswith("\n") else f"[{eq}[\n{text}]{eq}]"


def write_script(path: Path, *, method: str, body: str, headers: dict[str, str]) -> Path:
    header_lines = "\n".join(f"wrk.headers[ {lua_string(k)} ] = {lua_string(v)}" for k, v in headers.items())
    path.write_text(_LUA.format(method=lua_string(method), body=lua_string(body), headers=header_lines), encoding="utf-8")
    return path


def run(url: str, script: Path, *, seconds: float, threads: int = 2, connections: int = 16) -> LoadResult:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed")
    proc = subprocess.run(
        [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=False,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(line.removeprefix("BENCH_RESULT "))
    return LoadResult(
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1e3,
        p99_ms=data["p99_us"] / 1e3,
        socket_errors=int(data["connect"] + data["read"] + data["write"] + data["timeout"]),
        bad_answers=int(data["bad_answers"]),
    )
