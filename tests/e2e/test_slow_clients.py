"""Slow clients cannot take the app down: the app started as shipped (`python -m app`: gunicorn.conf.py, gevent
workers, 2 of them by default) keeps answering while 16 clients drip their request headers one byte a second and 4 new
connections a second are opened and left silent. Meanwhile the health check's request (`GET /manifest.json`) and a
signed call of the plugin (`POST /bindings`) are sent every quarter second, each on a new connection, and each must
answer 200 within 1 s (the image's HEALTHCHECK allows 4 s).

The control runs the same load against the same app with threaded workers (`--worker-class gthread --threads 4`,
which override the configuration file): each of their threads waits on one slow or silent connection, and the probes
time out. (gunicorn.conf.py still patches the standard library for gevent there, so those threads are greenlets, but
each worker still serves at most 4 connections at once, which is what the slow clients exhaust.) Everything runs on
loopback, for a few seconds, and every thread stops by itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from mattermost_apps.testing import InstalledApp, User, build_call_request, call_headers
from services import MANIFEST_TEMPLATE

from .harness import RUNNING, ManagedProcess, free_port, start_process, stop_all

pytestmark = pytest.mark.e2e

SLOW_CLIENTS = 16
DRIP_SECONDS = 1.0  # one header byte a second each, never the end of the headers
IDLE_CONNECTIONS_PER_SECOND = 4
PROBE_EVERY = 0.25
PROBE_TIMEOUT = 1.0
LOAD_SECONDS = 5.0
CONTROL_LOAD_SECONDS = 3.0
SETTLE_SECONDS = 0.5  # the load is in place before the first probe

MANIFEST = json.loads(MANIFEST_TEMPLATE.read_text(encoding="utf-8"))
ALICE = User(id="alice000000000000000000000", username="alice", email="alice@example.com")


@dataclass
class Probe:
    what: str
    seconds: float
    status: int | None  # None: no answer in time
    error: str = ""

    @property
    def in_time(self) -> bool:
        return self.status == 200 and not self.error and self.seconds < PROBE_TIMEOUT


@dataclass
class Load:
    """Slow clients, silent connections and probes against `url` for `seconds`, from threads that stop by themselves."""

    url: str
    seconds: float
    call: tuple[bytes, dict[str, str]]  # a signed POST /bindings: body, headers
    probes: list[Probe] = field(default_factory=list)
    sockets: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _deadline: float = 0.0

    def run(self) -> list[Probe]:
        self._deadline = time.monotonic() + self.seconds
        threads = [threading.Thread(target=self._slow_client, args=(i,)) for i in range(SLOW_CLIENTS)]
        threads.append(threading.Thread(target=self._silent_connections))
        threads += [threading.Thread(target=self._probe, args=(what,)) for what in ("GET /manifest.json", "POST /bindings")]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(self.seconds + 2 * PROBE_TIMEOUT + 5)
            assert not any(thread.is_alive() for thread in threads), "a load thread did not stop"
        finally:
            with self._lock:
                for sock in self.sockets:
                    sock.close()
        return self.probes

    def _open(self) -> socket.socket:
        host, port = self.url.removeprefix("http://").split(":")
        sock = socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT)
        with self._lock:
            self.sockets.append(sock)
        return sock

    def _slow_client(self, i: int) -> None:
        """A request line, then a header that never ends, one byte at a time."""
        try:
            sock = self._open()
            sock.sendall(b"GET /manifest.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-" + str(i).encode())
            while time.monotonic() < self._deadline:
                time.sleep(min(DRIP_SECONDS, max(self._deadline - time.monotonic(), 0)))
                sock.sendall(b"x")
        except OSError:
            pass  # the server may close a slow client: that is its right

    def _silent_connections(self) -> None:
        """IDLE_CONNECTIONS_PER_SECOND new connections a second that send nothing and stay open to the end."""
        while time.monotonic() < self._deadline:
            with contextlib.suppress(OSError):
                self._open()
            time.sleep(1 / IDLE_CONNECTIONS_PER_SECOND)

    def _probe(self, what: str) -> None:
        time.sleep(SETTLE_SECONDS)
        body, headers = self.call
        while time.monotonic() < self._deadline:
            began = time.monotonic()
            try:
                if what.startswith("GET"):
                    response = requests.get(self.url + "/manifest.json", timeout=PROBE_TIMEOUT)
                else:
                    response = requests.post(self.url + "/bindings", data=body, headers=headers, timeout=PROBE_TIMEOUT)
                seconds = time.monotonic() - began
                answered = what.startswith("GET") or response.json().get("type") == "ok"
                probe = Probe(what, seconds, response.status_code, "" if answered else response.text[:200])
            except (requests.RequestException, ValueError) as exc:
                probe = Probe(what, time.monotonic() - began, None, type(exc).__name__)
            with self._lock:
                self.probes.append(probe)
            time.sleep(max(PROBE_EVERY - (time.monotonic() - began), 0))


def environment(port: int, app_secret: str) -> dict[str, str]:
    """What an admin sets, and nothing else: the defaults (2 workers) stand."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "OAUTH2_", "LOG_", "GUNICORN_", "WEB_"))}
    return {**env, "HOST": "127.0.0.1", "PORT": str(port), "APP_SECRET": app_secret}


@contextlib.contextmanager
def serving(name: str, argv: list[str], tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The app started with `argv` from the repository root; (its URL, its APP_SECRET) once both workers answer."""
    port, app_secret = free_port(), secrets.token_urlsafe(32)
    process: ManagedProcess = start_process(
        name,
        [sys.executable, *argv],
        url=f"http://127.0.0.1:{port}",
        log_dir=tmp_path,
        env=environment(port, app_secret),
        stop_signal=signal.SIGTERM,
    )
    RUNNING.append(process)
    try:
        process.wait_until_up("/manifest.json")
        deadline = time.monotonic() + 20
        while process.output().count("Booting worker") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(8):  # both workers have served a request
            requests.get(process.url + "/manifest.json", timeout=5).raise_for_status()
        yield process.url, app_secret
    finally:
        stop_all([process])


def signed_bindings_call(url: str, app_secret: str) -> tuple[bytes, dict[str, str]]:
    installed = InstalledApp(
        app_id=MANIFEST["app_id"],
        root_url=url,
        secret=app_secret,
        bot=User(id="b0tb0tb0tb0tb0tb0tb0tb0tb0", username=MANIFEST["app_id"], is_bot=True),
        bot_access_token="bot-token-not-used",
        site_url="http://127.0.0.1:1",  # never called: the bindings come from the call's context alone
    )
    request = build_call_request(installed, MANIFEST["bindings"], acting_user=ALICE)
    return json.dumps(request).encode(), call_headers(installed, request)


def summary(probes: list[Probe]) -> str:
    late = [p for p in probes if not p.in_time]
    seconds = [p.seconds for p in probes]
    return (
        f"{len(probes)} probes, {len(late)} late or failed; latency median {statistics.median(seconds) * 1000:.0f} ms, "
        f"max {max(seconds) * 1000:.0f} ms"
    )


def test_slow_and_silent_clients_do_not_delay_the_health_check_or_the_plugins_calls(tmp_path: Path) -> None:
    with serving("app-as-shipped", ["-m", "app"], tmp_path) as (url, app_secret):
        probes = Load(url, LOAD_SECONDS, signed_bindings_call(url, app_secret)).run()
        # Still serving after the load, and nothing was dropped meanwhile.
        assert requests.get(url + "/manifest.json", timeout=PROBE_TIMEOUT).status_code == 200
    print(f"gevent, as shipped: {summary(probes)}")
    late = [p for p in probes if not p.in_time]
    assert not late, f"{summary(probes)}: {late[:5]}"
    assert len(probes) >= 2 * int((LOAD_SECONDS - SETTLE_SECONDS) / PROBE_EVERY) - 2, summary(probes)  # on schedule


def test_control_threaded_workers_are_held_up_by_the_same_clients(tmp_path: Path) -> None:
    """The control: the same load and probes, with the threaded workers of earlier versions; the probes time out."""
    argv = ["-m", "gunicorn", "app:app", "--worker-class", "gthread", "--threads", "4"]
    with serving("app-gthread", argv, tmp_path) as (url, app_secret):
        probes = Load(url, CONTROL_LOAD_SECONDS, signed_bindings_call(url, app_secret)).run()
    print(f"gthread control: {summary(probes)}")
    late = [p for p in probes if not p.in_time]
    assert len(late) >= len(probes) / 2, f"the threaded workers kept up: {summary(probes)}"


SLOW_READERS = 10  # each asks for the icon PIPELINED times and never reads an answer
PIPELINED = 100
SILENT_BODIES = 1990  # each sends a signed call's headers and never its body
KEEPALIVE_SECONDS = 5.0  # gunicorn.conf.py's: gunicorn ends a stalled body read, and an idle connection, then
HOLD_PROBE_TIMEOUT = 4 * KEEPALIVE_SECONDS  # the first probes wait for a slot; on a shared machine, a while
FREED_AFTER = 3 * KEEPALIVE_SECONDS  # by then every stalled socket is closed
WATCH_SECONDS = FREED_AFTER + 4
HEALTHCHECK_TIMEOUT = 4.0  # the image's HEALTHCHECK


def test_two_thousand_stalled_sockets_hold_the_connection_slots_for_a_bounded_time(tmp_path: Path) -> None:
    """2,000 sockets on loopback, as many as the 2 workers' connection slots, opened at once: a few pipeline
    requests for the icon and never read the answers, the rest send a signed call's headers (one valid JWT) and never
    its body. The server closes each within a few keepalive periods of its stalling, so the health check keeps
    answering: the first probes once a slot is free, then within the image's HEALTHCHECK timeout."""
    with serving("app-stalled-sockets", ["-m", "app"], tmp_path) as (url, app_secret):
        host, port = url.removeprefix("http://").split(":")
        body, headers = signed_bindings_call(url, app_secret)
        pipelined = b"GET /static/icon.png HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * PIPELINED
        head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Content-Length": str(len(body))}.items())
        call = f"POST /bindings HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode()
        sockets: list[socket.socket] = []
        probes: list[Probe] = []
        try:
            for i in range(SLOW_READERS + SILENT_BODIES):
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)  # a reader that stalls at once
                sock.settimeout(2)
                sock.connect((host, int(port)))
                sock.sendall(pipelined if i < SLOW_READERS else call)
                sockets.append(sock)
            started = time.monotonic()
            while (began := time.monotonic()) < started + WATCH_SECONDS:
                try:
                    response = requests.get(url + "/manifest.json", timeout=HOLD_PROBE_TIMEOUT)
                    probes.append(Probe(f"{began - started:.1f}", time.monotonic() - began, response.status_code))
                except requests.RequestException as exc:
                    probes.append(Probe(f"{began - started:.1f}", time.monotonic() - began, None, type(exc).__name__))
                time.sleep(max(0.5 - (time.monotonic() - began), 0))
        finally:
            for sock in sockets:
                sock.close()
    print(
        f"{len(sockets)} stalled sockets, probes at (s): " + ", ".join(f"{p.what}: {p.status} in {p.seconds:.2f}" for p in probes)
    )
    assert all(p.status == 200 for p in probes), probes
    after = [p for p in probes if float(p.what) > FREED_AFTER]
    assert after and all(p.seconds < HEALTHCHECK_TIMEOUT for p in after), probes
