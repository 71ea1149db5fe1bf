"""Two app processes with the same settings behind a round-robin proxy: connect is served by one replica and
complete by the other, and the flow still passes, because the app keeps no state of its own (PKCE is derived
from the plugin's state, tokens live in Mattermost)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.wrappers import Request

from .harness import (
    RUNNING,
    ForwardingProxy,
    ManagedProcess,
    Stack,
    UserAgent,
    app_env,
    connect_link,
    free_port,
    start_app,
    stop_all,
)

pytestmark = pytest.mark.e2e


class RoundRobinProxy(ForwardingProxy):
    """A load balancer: each request goes to the next replica; `served` records (path, replica)."""

    def __init__(self, replicas: dict[str, str]) -> None:
        super().__init__()
        self._next = itertools.cycle(replicas.items())
        self._lock = threading.Lock()
        self.served: list[tuple[str, str]] = []

    def upstream(self, request: Request, body: bytes) -> str:
        with self._lock:
            name, base = next(self._next)
            self.served.append((request.path, name))
        return base


@pytest.fixture(scope="module")
def replicas(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoundRobinProxy]:
    ports = {"A": free_port(), "B": free_port()}
    proxy = RoundRobinProxy({name: f"http://127.0.0.1:{port}" for name, port in ports.items()})
    log_dir: Path = tmp_path_factory.mktemp("replica-logs")
    instance_dir = tmp_path_factory.mktemp("replica-instance")  # shared, as a volume: the Mattermost the install pinned
    processes: list[ManagedProcess] = []
    try:
        for name, port in ports.items():
            # The same settings for both, as two pods of one deployment: only the listening port differs.
            env = app_env(
                port=port,
                root_url=proxy.url,
                app_secret=stack.app_secret,
                provider_url=stack.provider.url,
                calendar_url=stack.calendar_url,
                encryption_key=stack.encryption_key,
                instance_dir=instance_dir,
            )
            processes.append(start_app(port, env=env, log_dir=log_dir, name=f"replica-{name}"))
        RUNNING.extend(processes)
        for process in processes:
            process.wait_until_up("/manifest.json")
        proxy.start()
        yield proxy
    finally:
        proxy.stop()
        stop_all(processes)


def test_connect_on_one_replica_and_complete_on_the_other(stack: Stack, replicas: RoundRobinProxy) -> None:
    emulator = stack.emulator
    emulator.reset()
    stack.install(replicas.url)
    stack.configure()
    alice = UserAgent(emulator.url, "alice")
    link = connect_link(emulator.command("alice", "/google connect"))
    replicas.served.clear()

    page = alice.connect(link, provider_login="alice")

    assert page.status_code == 200 and "Completed connecting your account" in page.text, page.text
    served = dict(replicas.served)
    assert set(served) == {"/oauth2/connect", "/oauth2/complete"}, replicas.served
    assert served["/oauth2/connect"] != served["/oauth2/complete"]
    record = stack.stored_record("alice")
    assert record is not None and record.identity.email == "alice@example.test"

    replicas.served.clear()
    for command in ("/google info", "/google events", "/google info", "/google events"):
        answer = emulator.command("alice", command)
        assert answer["type"] == "ok", (command, answer)
    assert {name for _path, name in replicas.served} == {"A", "B"}
    assert "**alice@example.test** is now connected" in emulator.wait_for_posts("alice", 1)[0]["message"]
