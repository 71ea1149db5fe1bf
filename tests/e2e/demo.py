"""`make demo` (`python -m tests.e2e.demo`): the end-to-end stack, left running so a person can click through the
whole flow in a browser, without Mattermost or the real OAuth2 provider.

Starts the emulated Mattermost (with the Apps plugin), a local OAuth2 server (oidc-provider), a Calendar API stub
and the app, installs and configures the app, and prints where to click. Ctrl-C stops everything.
Ports: --emulator-port/--app-port/--provider-port/--calendar-port, or DEMO_EMULATOR_PORT, DEMO_APP_PORT, ...
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

from tests.e2e.harness import CLIENT_ID, CLIENT_SECRET, Stack, StackError, start_stack
from tests.names import CMD, PROVIDER

REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_PORTS = {"emulator": 8065, "app": 8080, "provider": 9000, "calendar": 9100}
LOG_DIR = REPO_ROOT / "artifacts" / "demo-logs"


def parse_ports(argv: list[str] | None) -> dict[str, int]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, port in DEFAULT_PORTS.items():
        parser.add_argument(f"--{name}-port", type=int, default=int(os.environ.get(f"DEMO_{name.upper()}_PORT", port)))
    args = parser.parse_args(argv)
    return {name: getattr(args, f"{name}_port") for name in DEFAULT_PORTS}


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def instructions(stack: Stack) -> str:
    site = stack.emulator.url
    return f"""
The demo is running: the app, an emulated Mattermost and a local OAuth2 server standing in for {PROVIDER}.

  1. Open {site}/login and log in as alice (any password; bob works too).
  2. Type {CMD} connect, press Send, and click "Connect your {PROVIDER} account".
  3. At the OAuth2 server, sign in with any name and password, then press Continue.
  4. Back at {site}/ the bot's direct message is waiting. Try {CMD} info, {CMD} events,
     {CMD} events --calendar Work (or --calendar "Team offsite": the stub's calendars, which the flag's
     lookup offers), {CMD} disconnect. As sysadmin, {CMD} configure shows the admin's form.

  Emulated Mattermost   {site}
  The app               {stack.app_url}  (manifest: {stack.app_url}/manifest.json)
  OAuth2 server         {stack.provider.url}  (client {CLIENT_ID}, secret {CLIENT_SECRET})
  Calendar API stub     {stack.calendar_url}
  Logs                  {LOG_DIR.relative_to(REPO_ROOT)}/

Press Ctrl-C to stop.
"""


def stop_on_signal(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C and `kill` both stop every process we started (SIGINT may arrive ignored from a non-interactive shell).
    signal.signal(signal.SIGINT, stop_on_signal)
    signal.signal(signal.SIGTERM, stop_on_signal)
    ports = parse_ports(argv)
    busy = [f"{name} {port}" for name, port in ports.items() if port_in_use(port)]
    if busy:
        print(
            f"demo: port(s) already in use: {', '.join(busy)}. Choose others, e.g. DEMO_APP_PORT=8081 make demo.", file=sys.stderr
        )
        return 1
    stack: Stack | None = None
    try:
        stack = start_stack(
            log_dir=LOG_DIR,
            app_secret=secrets.token_urlsafe(32),
            encryption_key=Fernet.generate_key().decode(),
            emulator_port=ports["emulator"],
            provider_port=ports["provider"],
            calendar_port=ports["calendar"],
            app_port=ports["app"],
        )
        stack.install()
        answer = stack.configure()
        if answer.get("type") != "ok":
            raise StackError(f"{CMD} configure failed: {answer.get('text')}")
        print(instructions(stack), flush=True)
        while True:
            for process in stack.processes.values():
                if process.popen.poll() is not None:
                    raise StackError(f"{process.name} stopped (status {process.popen.returncode}):\n{process.output()}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\ndemo: stopping.")
        return 0
    except StackError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    finally:
        if stack is not None:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
