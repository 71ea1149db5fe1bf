"""The refresh lock: at most one refresh of a user's token at a time, across threads, workers and (with Redis)
replicas, so that a provider that rotates refresh tokens never sees one come back.

`HostLock` (the default) takes an exclusive `flock` on one of a fixed set of files in a folder of the host: every
gunicorn worker and every replica on the host sees it, the kernel releases it when its holder dies, and memory
stays the same whatever the number of users. `RedisLock` (set `REDIS_URL`) is the same promise for replicas on
several hosts: `SET NX PX` with a random token, released by a compare-and-delete, expiring on its own by the
holder's call deadline at the latest (so a key set late, or left by a holder that died, keeps a user waiting no
longer than one call).

Holding the lock gives a `Lease`: `check()` raises `LockUnavailable("lost")` once the lock is no longer the
holder's (a Redis key that expired or vanished with a restart), so a refresh is never sent, and a record never
stored, under a lock someone else may hold.

Beside the lock, each store keeps the records a refresh could not store in Mattermost (`park`): a provider that
rotates refresh tokens has spent the old one, and the new one must be found by the next call, on any worker or
replica that shares the lock. The value is the app's ciphertext, never a token in clear.
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

from mattermost_apps.http import time_left

POLL_SECONDS = 0.01


class LockUnavailable(Exception):
    """The lock could not be taken in time (`reason` `busy`), its store cannot be reached (`unavailable`), or it
    was lost while held (`lost`)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Lease(Protocol):
    def check(self) -> None:
        """Raise `LockUnavailable("lost")` if the lock is no longer held."""
        ...


class RefreshLock(Protocol):
    def hold(self, key: str, *, timeout: float) -> contextlib.AbstractContextManager[Lease]:
        """Hold the lock of `key` for the `with` block; wait for it at most `timeout` seconds."""
        ...

    def park(self, key: str, value: str) -> None:
        """Keep `value` for `key` until `unpark`: where every process sharing this lock finds it."""
        ...

    def parked(self, key: str) -> str | None: ...

    def unpark(self, key: str) -> None: ...


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class _HeldFlock:
    def check(self) -> None:
        """A flock is held until its file is closed."""


class HostLock:
    def __init__(self, directory: Path | None = None, *, stripes: int = 256) -> None:
        self.directory = directory or Path(tempfile.gettempdir()) / f"mattermost-app-refresh-locks-{os.getuid()}"
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._paths = [str(self.directory / f"{stripe:04d}.lock") for stripe in range(stripes)]

    @contextlib.contextmanager
    def hold(self, key: str, *, timeout: float) -> Iterator[Lease]:
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
            yield _HeldFlock()
        finally:
            os.close(fd)  # releases the lock

    def _parked_path(self, key: str) -> Path:
        return self.directory / f"parked-{_digest(key)}"

    def park(self, key: str, value: str) -> None:
        try:
            self._write(self._parked_path(key), value)
        except OSError:
            raise LockUnavailable("unavailable") from None

    def parked(self, key: str) -> str | None:
        try:
            return self._parked_path(key).read_text(encoding="ascii")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeError):
            raise LockUnavailable("unavailable") from None

    def unpark(self, key: str) -> None:
        try:
            self._parked_path(key).unlink(missing_ok=True)
        except OSError:
            raise LockUnavailable("unavailable") from None

    @staticmethod
    def _write(path: Path, value: str) -> None:
        # Written whole, then renamed into place: a reader sees the old value or the new one, never half of one.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(value)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


class _RedisLease:
    def __init__(self, client: redis.Redis, name: str, token: str, errors: tuple[type[Exception], ...]) -> None:
        self._client, self._name, self._token, self._errors = client, name, token, errors

    def check(self) -> None:
        try:
            held = self._client.get(self._name) == self._token.encode()
        except self._errors:
            raise LockUnavailable("unavailable") from None
        if not held:
            raise LockUnavailable("lost")


class RedisLock:
    # Delete the key only if it still holds our token: a lock that expired and was taken by another is theirs.
    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

    def __init__(self, url: str, *, ttl: float, timeout: float = 2.0, prefix: str = "mattermost-app-refresh") -> None:
        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)
        self._redis = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._release = self._redis.register_script(self._RELEASE)
        self._ttl = ttl
        self._prefix = prefix

    @contextlib.contextmanager
    def hold(self, key: str, *, timeout: float) -> Iterator[Lease]:
        name = f"{self._prefix}:{_digest(key)}"
        token = secrets.token_hex(16)
        deadline = time.monotonic() + timeout
        try:
            while not self._redis.set(name, token, nx=True, px=self._ttl_ms()):
                if time.monotonic() >= deadline:
                    raise LockUnavailable("busy")
                time.sleep(POLL_SECONDS)
        except self._errors:
            raise LockUnavailable("unavailable") from None
        try:
            yield _RedisLease(self._redis, name, token, self._errors)
        finally:
            with contextlib.suppress(*self._errors):  # it expires by itself
                self._release(keys=[name], args=[token])

    def _ttl_ms(self) -> int:
        """The key lives until the holder's call must have ended: a SET that reaches Redis late (after the caller gave
        up on it) keeps the user waiting no longer than that."""
        left = time_left()
        return max(1, int(1000 * (self._ttl if left is None else min(self._ttl, left))))

    def park(self, key: str, value: str) -> None:
        try:
            self._redis.set(f"{self._prefix}:parked:{_digest(key)}", value)
        except self._errors:
            raise LockUnavailable("unavailable") from None

    def parked(self, key: str) -> str | None:
        try:
            value = self._redis.get(f"{self._prefix}:parked:{_digest(key)}")
        except self._errors:
            raise LockUnavailable("unavailable") from None
        return value.decode("ascii") if isinstance(value, bytes) else None

    def unpark(self, key: str) -> None:
        try:
            self._redis.delete(f"{self._prefix}:parked:{_digest(key)}")
        except self._errors:
            raise LockUnavailable("unavailable") from None
