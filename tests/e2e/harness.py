"""Real processes on loopback for the end-to-end tests and `make demo`, and clients to drive them.

The stack: the OAuth2 server (npm oidc-provider, standing in for the provider), the emulated Mattermost with its
Apps plugin, a Calendar API stub, and the app itself under gunicorn. `UserAgent` is a browser without a
browser: a cookie jar that carries the emulator's MMAUTHTOKEN and walks connect_url → the provider's
login and consent pages → complete_url.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from wsgiref.types import StartResponse, WSGIEnvironment

import requests
from cryptography.fernet import Fernet
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from provider import AppProvider
from tests.names import APP_ID, CMD
from user_tokens import TokenRecord

REPO_ROOT = Path(__file__).resolve().parents[2]
PROVIDER_DIR = REPO_ROOT / "tests" / "node"
CHROMIUM = Path("/usr/bin/chromium")

PLUGIN_URL_PATH = "/plugins/com.mattermost.apps"
CLIENT_ID = "mm-app"
CLIENT_SECRET = "mm-secret-e2e-wxyz"
# What the app asks for (its provider's own scopes), plus offline_access, which oidc-provider needs to issue a refresh
# token; the provider is told to know exactly these (a scope it does not know is dropped).
OAUTH2_SCOPES = " ".join((*AppProvider.scopes, "offline_access"))
DEFAULT_ACCESS_TOKEN_TTL = 3600
TIMEOUT = 10.0


_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}


class ForwardingProxy:
    """An HTTP proxy on a free loopback port, served from a thread: each request is forwarded as is to the base
    URL that `upstream(request, body)` chooses (a subclass decides, and may delay or record)."""

    def __init__(self) -> None:
        self._http = requests.Session()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def upstream(self, request: Request, body: bytes) -> str:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        body = request.get_data()
        base = self.upstream(request, body)
        answer = self._http.request(
            request.method,
            base + request.full_path.rstrip("?"),
            data=body,
            headers={k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP},
            allow_redirects=False,
            timeout=30,
        )
        headers = [(k, v) for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP]
        return Response(answer.content, status=answer.status_code, headers=headers)(environ, start_response)


class StackError(RuntimeError):
    """A process did not start, or a control request failed; the message says what to do."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connect_url(site_url: str) -> str:
    return f"{site_url}{PLUGIN_URL_PATH}/apps/{APP_ID}/oauth2/remote/connect"


def complete_url(site_url: str) -> str:
    return f"{site_url}{PLUGIN_URL_PATH}/apps/{APP_ID}/oauth2/remote/complete"


def require_node() -> str:
    node = shutil.which("node")
    if node is None:
        raise StackError("node is not installed: install Node.js 20 or later with npm (e.g. `apt-get install -y nodejs npm`).")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        raise StackError(
            "the test OAuth2 server's npm packages are missing: run `bash scripts/install-test-deps.sh` "
            "(it runs `npm ci` in tests/node)."
        )
    return node


def require_chromium() -> Path:
    if not CHROMIUM.exists():
        raise StackError(
            "Chromium is missing at /usr/bin/chromium: run `bash scripts/install-test-deps.sh` "
            "(or `apt-get install -y chromium`)."
        )
    return CHROMIUM


# -- processes ---------------------------------------------------------------------------------------


@dataclass
class ManagedProcess:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    url: str
    stop_signal: int = signal.SIGTERM

    def output(self, limit: int = 6000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        text = data[-limit:].decode("utf-8", "replace")
        return text if len(data) <= limit else "…" + text

    def wait_until_up(self, probe_path: str = "/", timeout: float = 20.0) -> None:
        """Until the process answers HTTP on `url + probe_path` (any status); fails early if it exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise StackError(f"{self.name} exited with status {self.popen.returncode}:\n{self.output()}")
            try:
                requests.get(self.url + probe_path, timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.05)
        raise StackError(f"{self.name} did not answer on {self.url} within {timeout:.0f} s:\n{self.output()}")

    def signal_stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(self.stop_signal)

    def stop(self) -> None:
        self.signal_stop()
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            # Each process leads its own group: this also reaches workers it would otherwise leave behind.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)


# The processes the test fixtures started, so a failing test's report can show their output.
RUNNING: list[ManagedProcess] = []


def start_process(
    name: str,
    argv: list[str],
    *,
    url: str,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path = REPO_ROOT,
    stop_signal: int = signal.SIGTERM,
) -> ManagedProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        # A session of its own: a Ctrl-C in the terminal reaches only us, and we stop each process in order
        # (gunicorn's master and worker both receiving SIGINT at once can leave the worker behind).
        popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return ManagedProcess(name, popen, log_path, url, stop_signal)


def start_provider(
    port: int,
    *,
    redirect_uris: list[str],
    log_dir: Path,
    name: str = "oidc-provider",
    access_token_ttl: int = DEFAULT_ACCESS_TOKEN_TTL,
    rotate: bool = False,
) -> ManagedProcess:
    env = {
        "OP_PORT": str(port),
        "OP_CLIENT_ID": CLIENT_ID,
        "OP_CLIENT_SECRET": CLIENT_SECRET,
        "RP_REDIRECT": ",".join(redirect_uris),
        "OP_AT_TTL": str(access_token_ttl),
        "OP_ROTATE": "1" if rotate else "0",
        "OP_SCOPES": OAUTH2_SCOPES,
    }
    return start_process(
        name, [require_node(), "provider.mjs"], url=f"http://127.0.0.1:{port}", log_dir=log_dir, env=env, cwd=PROVIDER_DIR
    )


def start_emulator(port: int, *, log_dir: Path, name: str = "emulator") -> ManagedProcess:
    return start_process(
        name,
        [sys.executable, "-m", "mattermost_apps.testing.emulator", "--host", "127.0.0.1", "--port", str(port)],
        url=f"http://127.0.0.1:{port}",
        log_dir=log_dir,
    )


def start_calendar_stub(port: int, *, userinfo_url: str, log_dir: Path, name: str = "calendar-stub") -> ManagedProcess:
    return start_process(
        name,
        [sys.executable, "-m", "tests.e2e.calendar_stub", "--port", str(port), "--userinfo-url", userinfo_url],
        url=f"http://127.0.0.1:{port}",
        log_dir=log_dir,
    )


def app_env(
    *,
    port: int,
    root_url: str,
    app_secret: str,
    provider_url: str,
    calendar_url: str,
    encryption_key: str,
    log_level: str = "INFO",
    instance_dir: Path | None = None,
) -> dict[str, str]:
    """The app's settings. `instance_dir` holds what the app keeps (the Mattermost its install pinned); by default a
    new temporary folder, so that no two apps under test, nor `make run`, share one."""
    instance = instance_dir or Path(tempfile.mkdtemp(prefix="mattermost-app-instance-"))
    return {
        "APP_SECRET_FILE": str(instance / "app_secret"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "ROOT_URL": root_url,
        "APP_SECRET": app_secret,
        "OAUTH2_AUTHORIZE_URL": f"{provider_url}/auth",
        "OAUTH2_TOKEN_URL": f"{provider_url}/token",
        "OAUTH2_REVOKE_URL": f"{provider_url}/token/revocation",
        "OAUTH2_USERINFO_URL": f"{provider_url}/me",
        "OAUTH2_ISSUER": provider_url,  # oidc-provider's issuer: the identity comes from its ID tokens
        "OAUTH2_SCOPES": OAUTH2_SCOPES,
        "GOOGLE_API_URL": calendar_url,
        "TOKEN_ENCRYPTION_KEY": encryption_key,
        "LOG_LEVEL": log_level,
        "WEB_CONCURRENCY": "1",
    }


def start_app(
    port: int,
    *,
    env: Mapping[str, str],
    log_dir: Path,
    name: str = "app",
    workers: int = 1,
    wsgi_app: str = "app:app",
) -> ManagedProcess:
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        wsgi_app,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        # gunicorn's control socket defaults to one fixed path per user; several apps on one machine would clash.
        "--no-control-socket",
    ]
    # SIGINT is gunicorn's quick shutdown; SIGTERM would wait for keep-alive connections to drain.
    return start_process(name, argv, url=f"http://127.0.0.1:{port}", log_dir=log_dir, env=env, stop_signal=signal.SIGINT)


def stop_all(processes: list[ManagedProcess]) -> None:
    """Signal every process first, then wait for each: shutdowns overlap. A stopped process leaves RUNNING."""
    for process in processes:
        with contextlib.suppress(Exception):
            process.signal_stop()
    for process in processes:
        with contextlib.suppress(Exception):
            process.stop()
        if process in RUNNING:
            RUNNING.remove(process)


# -- clients for the test controls -------------------------------------------------------------------


def _json(response: requests.Response, what: str) -> Any:
    if response.status_code != 200:
        raise StackError(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json()


@dataclass
class EmulatorClient:
    """The emulator's `/_emulator` controls (JSON, no auth)."""

    url: str
    http: requests.Session = field(default_factory=requests.Session)

    def _post(self, path: str, body: Any = None) -> requests.Response:
        return self.http.post(self.url + "/_emulator" + path, json=body, timeout=TIMEOUT)

    def _get(self, path: str) -> Any:
        return _json(self.http.get(self.url + "/_emulator" + path, timeout=TIMEOUT), f"GET /_emulator{path}")

    @property
    def site_url(self) -> str:
        return self.url

    def install(self, manifest_url: str, secret: str) -> str:
        body = _json(self._post("/install", {"manifest_url": manifest_url, "secret": secret}), "install")
        return str(body.get("text", ""))

    def command(self, username: str, command: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"username": username, "command": command}
        if values is not None:
            body["values"] = values
        return _json(self._post("/command", body), f"command {command!r} as {username}")

    def submit(self, username: str, call: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        return _json(self._post("/submit", {"username": username, "call": call, "values": values}), f"submit as {username}")

    def stored_oauth2_user(self, username: str) -> str | None:
        """The raw body the app last stored for the user through /oauth2/user (None: nothing stored)."""
        return self._get(f"/oauth2_user/{username}")["stored"]

    def oauth2_app(self) -> dict[str, Any]:
        return self._get("/oauth2_app")

    def posts(self, username: str) -> list[dict[str, Any]]:
        return self._get(f"/posts/{username}")

    def wait_for_posts(self, username: str, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The user's posts once there are `count` of them: the app posts its confirmations after it has answered."""
        deadline = time.monotonic() + timeout
        while True:
            posts = self.posts(username)
            if len(posts) >= count or time.monotonic() >= deadline:
                return posts
            time.sleep(0.05)

    def log(self) -> dict[str, list[dict[str, Any]]]:
        return self._get("/log")

    def app_calls(self, path: str) -> list[dict[str, Any]]:
        return [c for c in self.log()["app_calls"] if c["path"] == path]

    def rest_calls(self, method: str, path_suffix: str) -> list[dict[str, Any]]:
        return [c for c in self.log()["rest_calls"] if c["method"] == method and c["path"].endswith(path_suffix)]

    def clear_log(self) -> None:
        _json(self._post("/log/clear"), "clear the log")

    def expire_states(self) -> None:
        _json(self._post("/states/expire"), "expire states")

    def reset(self) -> None:
        _json(self._post("/reset"), "reset")


@dataclass
class ProviderClient:
    """The OAuth2 server: its public endpoints, as a client of its own would call them, and its test controls."""

    url: str
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    http: requests.Session = field(default_factory=requests.Session)

    def set_access_token_ttl(self, seconds: int) -> None:
        _json(self.http.post(f"{self.url}/_test/access-token-ttl", params={"seconds": seconds}, timeout=TIMEOUT), "set TTL")

    def requests_log(self) -> list[dict[str, Any]]:
        return _json(self.http.get(f"{self.url}/_test/log", timeout=TIMEOUT), "provider log")["requests"]

    def token_requests(self, grant_type: str) -> list[dict[str, Any]]:
        return [r for r in self.requests_log() if r["path"] == "/token" and r.get("grant_type") == grant_type]

    def clear_log(self) -> None:
        _json(self.http.post(f"{self.url}/_test/log/clear", timeout=TIMEOUT), "clear provider log")

    def untick_scopes(self, *scopes: str) -> None:
        """From now on, every user unticks `scopes` on the consent screen (none: every box ticked again)."""
        _json(self.http.post(f"{self.url}/_test/unticked-scopes", params={"scopes": " ".join(scopes)}, timeout=TIMEOUT), "untick")

    def revoke(self, token: str) -> int:
        response = self.http.post(
            f"{self.url}/token/revocation", data={"token": token}, auth=(self.client_id, self.client_secret), timeout=TIMEOUT
        )
        return response.status_code

    def userinfo_status(self, access_token: str) -> int:
        return self.http.get(f"{self.url}/me", headers={"Authorization": f"Bearer {access_token}"}, timeout=TIMEOUT).status_code

    def refresh(self, refresh_token: str) -> requests.Response:
        return self.http.post(
            f"{self.url}/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(self.client_id, self.client_secret),
            timeout=TIMEOUT,
        )


# -- the browserless user agent ----------------------------------------------------------------------

_PROMPT = re.compile(r'name="prompt" value="(\w+)"')
_ABORT_LINK = re.compile(r'href="([^"]*/abort)"')


class UserAgent:
    """One person's browser, without the browser: the emulator's session cookie and the provider's cookies."""

    def __init__(self, emulator_url: str, username: str) -> None:
        self.emulator_url = emulator_url
        self.username = username
        self.http = requests.Session()
        self.authorization_url = ""  # where the plugin's connect_url last sent this browser
        response = self.http.post(
            f"{emulator_url}/login", data={"username": username, "password": "any"}, allow_redirects=False, timeout=TIMEOUT
        )
        if response.status_code not in (302, 303) or "MMAUTHTOKEN" not in self.http.cookies:
            raise StackError(f"login as {username} failed: HTTP {response.status_code}: {response.text[:300]}")

    def open(self, url: str) -> requests.Response:
        return self.http.get(url, allow_redirects=False, timeout=TIMEOUT)

    def authorize(self, connect_url: str, *, provider_login: str, cancel: bool = False) -> str:
        """Open connect_url and sign in and consent (or cancel) at the provider.

        Returns the provider's redirect back to Mattermost (complete_url?code=…&state=…&iss=…, or
        ?error=access_denied&state=…) without opening it, so a test can open it, replay it or hand it to someone else.
        """
        response = self.open(connect_url)
        if response.status_code != 307:
            raise StackError(f"connect_url answered HTTP {response.status_code}: {response.text[:300]}")
        location = self.authorization_url = response.headers["Location"]
        for _ in range(12):
            if urlsplit(location).path.endswith("/oauth2/remote/complete"):
                return location
            page = self.open(location)
            if page.is_redirect:
                location = urljoin(page.url, page.headers["Location"])
                continue
            match = _PROMPT.search(page.text)
            if page.status_code != 200 or match is None:
                raise StackError(f"unexpected provider page {page.url}: HTTP {page.status_code}: {page.text[:300]}")
            if match.group(1) == "login":
                answer = self.http.post(
                    page.url,
                    data={"prompt": "login", "login": provider_login, "password": "any"},
                    allow_redirects=False,
                    timeout=TIMEOUT,
                )
            elif cancel:
                abort = _ABORT_LINK.search(page.text)
                if abort is None:
                    raise StackError(f"no [ Cancel ] link on the consent page {page.url}")
                answer = self.open(urljoin(page.url, abort.group(1)))
            else:
                answer = self.http.post(page.url, data={"prompt": "consent"}, allow_redirects=False, timeout=TIMEOUT)
            if not answer.is_redirect:
                raise StackError(f"the provider answered HTTP {answer.status_code} on {page.url}: {answer.text[:300]}")
            location = urljoin(answer.url, answer.headers["Location"])
        raise StackError("the provider never redirected back to complete_url")

    def connect(self, connect_url: str, *, provider_login: str, cancel: bool = False) -> requests.Response:
        """The whole browser round trip; returns the plugin's answer at complete_url (the success page or an error)."""
        return self.open(self.authorize(connect_url, provider_login=provider_login, cancel=cancel))


_CONNECT_LINK = re.compile(r"\]\((http[^)\s]+/oauth2/remote/connect)\)")


def connect_link(answer: dict[str, Any]) -> str:
    """The connect_url in the answer to `/<command> connect` (a markdown link)."""
    match = _CONNECT_LINK.search(str(answer.get("text", ""))) if answer.get("type") == "ok" else None
    if match is None:
        raise StackError(f"no connect link in {answer}")
    return match.group(1)


# -- the whole stack ---------------------------------------------------------------------------------


@dataclass
class Stack:
    processes: dict[str, ManagedProcess]
    emulator: EmulatorClient
    provider: ProviderClient
    app_url: str
    calendar_url: str
    app_secret: str
    encryption_key: str

    def stop(self) -> None:
        stop_all(list(self.processes.values()))

    def install(self, root_url: str | None = None) -> str:
        return self.emulator.install(f"{root_url or self.app_url}/manifest.json", self.app_secret)

    def stored_record(self, username: str) -> TokenRecord | None:
        """The user's record as the app stored it, decrypted (the tests know the app's TOKEN_ENCRYPTION_KEY)."""
        raw = self.emulator.stored_oauth2_user(username)
        if raw is None or json.loads(raw) is None:
            return None
        # Opened whatever user it is bound to: the tests ask Mattermost's store for one user's slot.
        plaintext = Fernet(self.encryption_key).decrypt(json.loads(raw)["fernet"].encode())
        return TokenRecord.from_json(json.loads(plaintext))

    def configure(self, username: str = "sysadmin") -> dict[str, Any]:
        """`/<command> configure` as an admin: the form, then its submit with the provider's client."""
        response = self.emulator.command(username, f"{CMD} configure")
        if response.get("type") != "form":
            raise StackError(f"{CMD} configure did not answer a form: {response}")
        return self.emulator.submit(
            username, response["form"]["submit"], {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        )


def start_stack(
    *,
    log_dir: Path,
    app_secret: str,
    encryption_key: str,
    emulator_port: int,
    provider_port: int,
    calendar_port: int,
    app_port: int,
    log_level: str = "INFO",
) -> Stack:
    """Start the four processes in parallel and wait until each answers; stop them all if one fails."""
    site_url = f"http://127.0.0.1:{emulator_port}"
    provider_url = f"http://127.0.0.1:{provider_port}"
    calendar_url = f"http://127.0.0.1:{calendar_port}"
    app_url = f"http://127.0.0.1:{app_port}"
    processes: dict[str, ManagedProcess] = {}
    stack = Stack(
        processes, EmulatorClient(site_url), ProviderClient(provider_url), app_url, calendar_url, app_secret, encryption_key
    )
    try:
        processes["oidc-provider"] = start_provider(provider_port, redirect_uris=[complete_url(site_url)], log_dir=log_dir)
        processes["emulator"] = start_emulator(emulator_port, log_dir=log_dir)
        processes["calendar-stub"] = start_calendar_stub(calendar_port, userinfo_url=f"{provider_url}/me", log_dir=log_dir)
        env = app_env(
            port=app_port,
            root_url=app_url,
            app_secret=app_secret,
            provider_url=provider_url,
            calendar_url=calendar_url,
            encryption_key=encryption_key,
            log_level=log_level,
        )
        processes["app"] = start_app(app_port, env=env, log_dir=log_dir)
        for name, probe in (
            ("oidc-provider", "/.well-known/openid-configuration"),
            ("emulator", "/login"),
            ("calendar-stub", "/"),
            ("app", "/manifest.json"),
        ):
            processes[name].wait_until_up(probe)
    except BaseException:
        stack.stop()
        raise
    return stack
