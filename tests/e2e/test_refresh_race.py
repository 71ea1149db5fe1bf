"""The refresh race, over real processes: two calls at once for one user whose access token is stale, each on a
new TCP connection, one per worker or one per replica, against oidc-provider rotating refresh tokens (OP_ROTATE=1:
a used refresh token that comes back revokes the whole grant). Both calls must answer, the provider must never see a
refresh token twice, and the grant must outlive the trials.

Each trial builds its two CallRequests as the Apps plugin does (`mattermost_apps.testing`), from what Mattermost
stores for the user at that moment, and posts them straight to the app, so each lands on whichever worker accepts
it (or on the replica it is sent to). The provider issues access tokens for 2 s, under the app's 60 s margin: every
call refreshes. A gate in front of the provider's token endpoint holds the refresh of the token a trial starts from
for a moment, so the second call surely reaches its refresh lock while the first refresh is in flight: without a
lock that both calls share, the second call replays that token and the grant is lost. The control at the end shows
exactly that with two replicas that do not share a lock.

The configurations: one gunicorn with 2 workers (the host lock, `flock` in a folder of the host); 2 replicas with
one worker each on one host (the same TMPDIR, so the same lock folder); 2 replicas on "two hosts" (a TMPDIR each)
sharing a private Redis (REDIS_URL).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from werkzeug.wrappers import Request

from commands import COMMANDS
from mattermost_apps.testing import InstalledApp, User, build_call_request, call_headers
from mattermost_apps.testing.emulator.store import SEEDED_USERS

from .harness import (
    RUNNING,
    ForwardingProxy,
    ManagedProcess,
    ProviderClient,
    Stack,
    StackError,
    UserAgent,
    app_env,
    complete_url,
    connect_link,
    free_port,
    start_app,
    start_calendar_stub,
    start_process,
    start_provider,
    stop_all,
)

pytestmark = pytest.mark.e2e

TRIALS = 20
# With 2 workers, which one accepts a connection is up to them: trials go on (up to MAX_TRIALS) until at least
# MIN_SPLIT_TRIALS of them had their two calls on different workers.
MIN_SPLIT_TRIALS = 5
MAX_TRIALS = 40
CONTROL_TRIALS = 5
ACCESS_TOKEN_TTL = 2  # oidc-provider counts whole seconds: a 1 s token can be dead a few milliseconds after issue
REFRESH_HOLD_SECONDS = 0.15
CALL_TIMEOUT = 15.0
ALICE: User = next(user for user in SEEDED_USERS if user.username == "alice")
COMMAND = {command.label: command for command in COMMANDS}


class RefreshGate(ForwardingProxy):
    """In front of the provider: records every refresh token sent, and holds the refreshes of one token (the one a
    trial starts from) for a moment before forwarding them."""

    def __init__(self, upstream: str, hold: float) -> None:
        super().__init__()
        self._upstream = upstream
        self._hold = hold
        self._lock = threading.Lock()
        self.held_token: str | None = None
        self.sent: list[str] = []

    def upstream(self, request: Request, body: bytes) -> str:
        if request.path == "/token" and request.form.get("grant_type") == "refresh_token":
            token = request.form.get("refresh_token", "")
            with self._lock:
                self.sent.append(token)
            if token == self.held_token:
                time.sleep(self._hold)
        return self._upstream


class CapturingProxy(ForwardingProxy):
    """The apps' ROOT_URL: forwards the emulator's calls to `target` and keeps the last CallRequest of each path, so
    a test can read the sessions the plugin gave the app (they live 10 minutes, and are reused meanwhile)."""

    def __init__(self) -> None:
        super().__init__()
        self.target = ""
        self.last_call: dict[str, dict[str, Any]] = {}

    def upstream(self, request: Request, body: bytes) -> str:
        if request.method == "POST" and body:
            with contextlib.suppress(ValueError):
                self.last_call[request.path] = json.loads(body)
        return self.target


@dataclass
class Race:
    """What every configuration shares; `apps` starts a configuration's gunicorns, `connect_alice` a fresh Mattermost."""

    stack: Stack
    provider: ProviderClient
    gate: RefreshGate
    apps_proxy: CapturingProxy
    calendar_url: str
    redis_url: str
    log_dir: Path
    tmp: Path  # where the tests make the TMPDIR of each simulated host

    def env(self, port: int, **extra: str) -> dict[str, str]:
        env = app_env(
            port=port,
            root_url=self.apps_proxy.url,
            app_secret=self.stack.app_secret,
            provider_url=self.provider.url,
            calendar_url=self.calendar_url,
            encryption_key=self.stack.encryption_key,
            instance_dir=self.tmp / "instance",  # shared by every replica: the Mattermost the install pinned
        )
        env["OAUTH2_TOKEN_URL"] = self.gate.url + "/token"
        env["OAUTH2_ROTATES_REFRESH_TOKENS"] = "true"
        return {**env, **extra}

    @contextlib.contextmanager
    def apps(
        self, name: str, envs: Sequence[Mapping[str, str]], *, workers: int = 1, wsgi_app: str = "app:app"
    ) -> Iterator[list[ManagedProcess]]:
        """One gunicorn per env (its PORT), started together; the emulator's calls go to the first."""
        started: list[ManagedProcess] = []
        try:
            for i, env in enumerate(envs):
                process = start_app(
                    int(env["PORT"]), env=env, log_dir=self.log_dir, name=f"{name}-{i + 1}", workers=workers, wsgi_app=wsgi_app
                )
                started.append(process)
                RUNNING.append(process)
            for process in started:
                process.wait_until_up("/manifest.json")
            self.apps_proxy.target = started[0].url
            yield started
        finally:
            stop_all(started)

    def connect_alice(self) -> Caller:
        """A fresh Mattermost with the app installed, configured and alice connected; the caller of her calls."""
        emulator = self.stack.emulator
        emulator.reset()
        emulator.install(self.apps_proxy.url + "/manifest.json", self.stack.app_secret)
        assert self.stack.configure()["type"] == "ok"
        page = UserAgent(emulator.url, "alice").connect(
            connect_link(emulator.command("alice", "/google connect")), provider_login="alice"
        )
        assert page.status_code == 200 and "Completed connecting your account" in page.text, page.text
        context = self.apps_proxy.last_call["/oauth2/complete"]["context"]
        manifest = requests.get(self.apps_proxy.url + "/manifest.json", timeout=10).json()
        installed = InstalledApp(
            app_id=manifest["app_id"],
            root_url=self.apps_proxy.url,
            secret=self.stack.app_secret,
            bot=User(id=context["bot_user_id"], username=manifest["app_id"], is_bot=True),
            bot_access_token=context["bot_access_token"],
            site_url=emulator.site_url,
            permissions=tuple(manifest["requested_permissions"]),
            oauth2_app=emulator.oauth2_app(),
        )
        self.provider.clear_log()
        self.gate.sent.clear()
        return Caller(self, installed, context["acting_user_access_token"])


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    pid: int | None  # the process that served it, when known

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.body.get("type") == "ok"


@dataclass
class Caller:
    race: Race
    installed: InstalledApp
    alice_token: str  # the app's session as alice, which the plugin puts in acting_user_access_token

    def request(self, label: str, stored: str | None) -> dict[str, Any]:
        """The CallRequest of `/google <label>` as the plugin builds it from `stored`, what Mattermost holds."""
        command = COMMAND[label]
        return build_call_request(
            self.installed,
            {"path": command.path, "expand": command.expand},
            acting_user=ALICE,
            acting_user_access_token=self.alice_token,
            stored_oauth2_user=stored.encode() if stored is not None else None,
        )

    def trial(self, first: ManagedProcess, second: ManagedProcess) -> tuple[Answer, Answer]:
        """`/google events` to `first` and `/google info` to `second` at once, each on a new connection, both built
        from the same stored record, whose refresh is held at the gate."""
        stored = self.race.stack.emulator.stored_oauth2_user("alice")
        record = self.race.stack.stored_record("alice")
        assert record is not None and record.refresh_token, "alice's grant is gone before the trial"
        self.race.gate.held_token = record.refresh_token
        requests_ = [self.request("events", stored), self.request("info", stored)]
        answers: list[Answer | BaseException | None] = [None, None]
        start = threading.Barrier(2, timeout=CALL_TIMEOUT)

        def call(i: int, app: ManagedProcess) -> None:
            try:
                answers[i] = post_call(app, requests_[i], call_headers(self.installed, requests_[i]), start)
            except BaseException as exc:
                answers[i] = exc

        threads = [threading.Thread(target=call, args=(i, app)) for i, app in enumerate((first, second))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(CALL_TIMEOUT + 5)
        for answer in answers:
            if not isinstance(answer, Answer):
                raise AssertionError(f"a call did not answer: {answer!r}")
        return answers[0], answers[1]  # type: ignore[return-value]

    def check(self, events: Answer, info: Answer) -> None:
        kept = events.ok and "Design review" in events.body["text"]
        kept = kept and info.ok and "Connected to Google as **alice@example.test** (Alice Test)" in info.body["text"]
        assert kept, f"after {len(self.race.gate.sent)} refreshes: events {events}, info {info}"

    def assert_no_replay(self) -> None:
        sent = self.race.gate.sent
        assert len(set(sent)) == len(sent), f"a refresh token was sent twice among {len(sent)} refreshes"
        statuses = [r["status"] for r in self.race.provider.token_requests("refresh_token")]
        assert statuses and set(statuses) == {200}, statuses

    def assert_grant_alive(self) -> None:
        """A call through the emulated plugin still works, with the stored refresh token, which was never used."""
        answer = self.race.stack.emulator.command("alice", "/google info")
        assert answer["type"] == "ok" and "Alice Test" in answer["text"], answer
        self.assert_no_replay()


def post_call(app: ManagedProcess, request: dict[str, Any], headers: dict[str, str], start: threading.Barrier) -> Answer:
    """POST the call on a connection of its own; note which process holds the other end before closing it (the
    worker keeps a finished connection open for keep-alive, so it is still there)."""
    host, port = app.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=CALL_TIMEOUT)
    try:
        connection.connect()
        start.wait()
        connection.request("POST", request["path"], json.dumps(request).encode(), headers)
        response = connection.getresponse()
        body = json.loads(response.read())
        assert connection.sock is not None
        pid = serving_process(app, connection.sock.getsockname()[1])
        return Answer(response.status, body, pid)
    finally:
        connection.close()


def serving_process(app: ManagedProcess, client_port: int) -> int | None:
    """The gunicorn worker that holds the server side of the loopback connection from `client_port` (Linux /proc)."""
    server_port = int(app.url.rsplit(":", 1)[1])
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    sockets = (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
    inode = next((fields[9] for fields in sockets if fields[1:3] == [local, remote]), None)
    if inode is None:
        return None
    master = app.popen.pid
    for pid in map(int, Path(f"/proc/{master}/task/{master}/children").read_text().split()):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                        return pid
    return None


def start_redis(port: int, *, log_dir: Path) -> ManagedProcess:
    """A private Redis on loopback that keeps nothing on disk, gone when it stops."""
    process = start_process(
        "redis",
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(log_dir)],
        url=f"redis://127.0.0.1:{port}",
        log_dir=log_dir,
        cwd=log_dir,
    )
    client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        if process.popen.poll() is not None:
            raise StackError(f"redis-server exited with status {process.popen.returncode}:\n{process.output()}")
        with contextlib.suppress(redis.RedisError):
            if client.ping():
                return process
        if time.monotonic() > deadline:
            process.stop()
            raise StackError(f"redis-server did not answer on port {port}:\n{process.output()}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def race(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Race]:
    """oidc-provider rotating refresh tokens, its own Calendar stub, the refresh gate, the apps' proxy and a private
    Redis; the session's emulator plays Mattermost. The apps are started by each test."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: run `bash scripts/install-test-deps.sh` (apt-get install redis-server)")
    log_dir = tmp_path_factory.mktemp("refresh-race-logs")
    provider_port, calendar_port, redis_port = free_port(), free_port(), free_port()
    provider_url = f"http://127.0.0.1:{provider_port}"
    gate = RefreshGate(provider_url, REFRESH_HOLD_SECONDS)
    apps_proxy = CapturingProxy()
    processes: list[ManagedProcess] = []
    try:
        try:
            provider = start_provider(
                provider_port,
                redirect_uris=[complete_url(stack.emulator.site_url)],
                log_dir=log_dir,
                name="oidc-provider-race",
                rotate=True,
                access_token_ttl=ACCESS_TOKEN_TTL,
            )
            calendar = start_calendar_stub(
                calendar_port, userinfo_url=f"{provider_url}/me", log_dir=log_dir, name="calendar-race"
            )
            processes += [provider, calendar]
            RUNNING.extend(processes)
            processes.append(start_redis(redis_port, log_dir=log_dir))
            RUNNING.append(processes[-1])
            provider.wait_until_up("/.well-known/openid-configuration")
            calendar.wait_until_up("/")
        except StackError as exc:
            pytest.fail(str(exc), pytrace=False)
        gate.start()
        apps_proxy.start()
        yield Race(
            stack,
            ProviderClient(provider_url),
            gate,
            apps_proxy,
            calendar.url,
            processes[2].url,
            log_dir,
            tmp_path_factory.mktemp("refresh-race-hosts"),
        )
    finally:
        gate.stop()
        apps_proxy.stop()
        stop_all(processes)


def test_two_workers_never_lose_the_grant(race: Race) -> None:
    """One gunicorn with 2 workers, as shipped: the host lock is a file lock every worker sees."""
    port = free_port()
    with race.apps("race-workers", [race.env(port)], workers=2) as (app,):
        caller = race.connect_alice()
        trials = split = 0
        while trials < TRIALS or (split < MIN_SPLIT_TRIALS and trials < MAX_TRIALS):
            events, info = caller.trial(app, app)
            caller.check(events, info)
            assert None not in (events.pid, info.pid), "could not tell which worker served a call (/proc)"
            trials += 1
            split += events.pid != info.pid
        assert split >= MIN_SPLIT_TRIALS, f"only {split} of {trials} trials had their calls on different workers"
        caller.assert_grant_alive()
        print(f"2 workers: {trials} trials, {split} split across workers, {len(race.gate.sent)} refreshes, 0 lost")


def test_two_replicas_on_one_host_never_lose_the_grant(race: Race) -> None:
    """Two replicas with one worker each on one host: the same lock folder (the same TMPDIR)."""
    host = race.tmp / "one-host"
    host.mkdir()
    envs = [race.env(free_port(), TMPDIR=str(host)) for _ in range(2)]
    with race.apps("race-one-host", envs) as (first, second):
        caller = race.connect_alice()
        for _ in range(TRIALS):
            caller.check(*caller.trial(first, second))
        caller.assert_grant_alive()
        print(f"2 replicas, one host: {TRIALS} trials, {len(race.gate.sent)} refreshes, 0 lost")


def test_two_replicas_on_two_hosts_sharing_redis_never_lose_the_grant(race: Race) -> None:
    """Two replicas on two hosts (a lock folder each, so their host locks never meet) with REDIS_URL: the lock is in
    the one Redis they share."""
    envs = []
    for name in ("host-a", "host-b"):
        (race.tmp / name).mkdir()
        envs.append(race.env(free_port(), TMPDIR=str(race.tmp / name), REDIS_URL=race.redis_url))
    store = redis.Redis.from_url(race.redis_url)
    store.config_resetstat()
    with race.apps("race-redis", envs) as (first, second):
        caller = race.connect_alice()
        for _ in range(TRIALS):
            caller.check(*caller.trial(first, second))
        caller.assert_grant_alive()
        # Each refresh was made under a lock taken in Redis: its holder released it (the release script's DEL).
        released = store.info("commandstats").get("cmdstat_del", {}).get("calls", 0)
        assert released >= len(race.gate.sent), (released, len(race.gate.sent))
        print(f"2 replicas, two hosts, Redis: {TRIALS} trials, {len(race.gate.sent)} refreshes, {released} locks released")


def test_control_two_hosts_without_a_shared_lock_lose_the_grant(race: Race) -> None:
    """The control: the same two hosts without REDIS_URL share no lock, and the race the trials above survive loses
    the grant here (the provider sees a refresh token twice), within a few trials."""
    envs = []
    for name in ("control-a", "control-b"):
        (race.tmp / name).mkdir()
        envs.append(race.env(free_port(), TMPDIR=str(race.tmp / name)))
    with race.apps("race-no-shared-lock", envs) as (first, second):
        caller = race.connect_alice()
        lost_at = None
        for trial in range(1, CONTROL_TRIALS + 1):
            events, info = caller.trial(first, second)
            if not (events.ok and info.ok):
                lost_at = trial
                break
        assert lost_at is not None, f"{CONTROL_TRIALS} trials without a shared lock kept the grant: the race did not happen"
        sent = race.gate.sent
        assert len(set(sent)) < len(sent), sent  # a refresh token was sent twice...
        assert 400 in [r["status"] for r in race.provider.token_requests("refresh_token")]  # ...and refused
        failed = [answer.body for answer in (events, info) if not answer.ok]
        assert all(body.get("type") == "error" and "/google connect" in body.get("text", "") for body in failed), failed
        record = race.stack.stored_record("alice")  # the grant is gone: nothing stored, or a dead refresh token
        assert record is None or record.refresh_token is None or race.provider.refresh(record.refresh_token).status_code == 400
        print(f"control, no shared lock: the grant was lost at trial {lost_at}: {events.body} / {info.body}")
