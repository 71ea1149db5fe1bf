"""The refresh lock: at most one refresh of a user's token at a time, across threads, workers and (with Redis)
replicas, so that a provider that rotates refresh tokens never sees one come back.

`HostLock` (the default) takes an exclusive `flock` on one of a fixed set of files in a folder of the host: every
gunicorn worker and every replica on the host sees it, the kernel releases it when its holder dies, and memory
stays the same whatever the number of users. `RedisLock` (set `REDIS_URL`) is the same promise for replicas on
several hosts: `SET NX PX` with a random token, released by a compare-and-delete, expiring on its own if its
holder dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import redis

POLL_SECONDS = 0.01


class LockUnavailable(Exception):
    """The lock could not be taken in time (`reason` `busy`), or its store cannot be reached (`unavailable`)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class RefreshLock(Protocol):
    def hold(self, key: str, *, timeout: float) -> contextlib.AbstractContextManager[None]:
        """Hold the lock of `key` for the `with` block; wait for it at most `timeout` seconds."""
        ...


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class HostLock:
    def __init__(self, directory: Path | None = None, *, stripes: int = 256) -> None:
        self.directory = directory or Path(tempfile.gettempdir()) / f"mattermost-app-refresh-locks-{os.getuid()}"
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._paths = [str(self.directory / f"{stripe:04d}.lock") for stripe in range(stripes)]

    @contextlib.contextmanager
    def hold(self, key: str, *, timeout: float) -> Iterator[None]:
        fd = os.open(self._paths[int(_digest(key)[:8], 16) % len(self._paths)], os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # flock belongs to this open file: it excludes the other threads of this process as well as other processes.
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockUnavailable("busy") from None
                    time.sleep(POLL_SECONDS)
            yield
        finally:
            os.close(fd)  # releases the lock


class RedisLock:
    # Delete the key only if it still holds our token: a lock that expired and was taken by another is theirs.
    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

    def __init__(self, url: str, *, ttl: float, prefix: str = "mattermost-app-refresh") -> None:
        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._release = self._redis.register_script(self._RELEASE)
        self._ttl_ms = int(ttl * 1000)
        self._prefix = prefix

    @contextlib.contextmanager
    def hold(self, key: str, *, timeout: float) -> Iterator[None]:
        name = f"{self._prefix}:{_digest(key)}"
        token = secrets.token_hex(16)
        deadline = time.monotonic() + timeout
        try:
            while not self._redis.set(name, token, nx=True, px=self._ttl_ms):
                if time.monotonic() >= deadline:
                    raise LockUnavailable("busy")
                time.sleep(POLL_SECONDS)
        except self._errors:
            raise LockUnavailable("unavailable") from None
        try:
            yield
        finally:
            with contextlib.suppress(*self._errors):  # it expires by itself
                self._release(keys=[name], args=[token])
