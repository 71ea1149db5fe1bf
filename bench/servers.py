"""gunicorn processes for the bench: started from the repository root (so they read gunicorn.conf.py), timed to
their first 200, measured through /proc, stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from .workload import REPO


class BenchFailure(Exception):
    """The bench cannot produce meaningful figures (a server did not start, an answer was an error...)."""


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

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

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

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_gunicorn(name: str, app_spec: str, env: dict[str, str], workdir: Path, *, workers: int) -> Server:
    """`gunicorn <app_spec>` with `workers` workers and everything else from gunicorn.conf.py."""
    port = free_port()
    full_env = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(workers)}
    log_path = workdir / f"{name.replace(' ', '-').replace('(', '').replace(')', '')}.log"
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
