"""The user's token, from the call's context to a usable access token, and back to Mattermost.

The record arrives in `context.oauth2.user` (expand `oauth2_user: all`), so reading it costs no round trip. A token
about to expire is refreshed under the refresh lock, and only when the result can be stored (the call carries the
user's token and names the trusted Mattermost). The refreshed record is stored back (retried: it is a whole
overwrite) while the API call that needed it runs. A provider that rotates refresh tokens (unless its class says it
does not) gets one more round trip: inside the lock, the stored record is read again, so a refresh token another
worker has traded in is never sent. A rotated record is first parked beside the lock, where the next call on any
worker finds it if Mattermost failed to store it. Nothing is cleared on a transient fault: only a refresh token the
provider refuses, and that is still the one stored.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from mattermost_apps import AppsClient, CallRequest, MattermostError
from mattermost_apps.http import time_left
from provider import OAuth2Provider, ProviderError

from .locks import Lease, LockUnavailable, RefreshLock
from .record import RecordOfAnotherUser, TokenCipher, TokenRecord, UnreadableRecord

log = logging.getLogger(__name__)

T = TypeVar("T")
REFRESH_MARGIN_SECONDS = 60.0
STORE_ATTEMPTS = 3
LOCK_WAIT_SECONDS = 20.0  # outside a call's deadline
_STORE_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="store-refreshed-record")


class TokenUnavailable(Exception):
    """The call cannot get a usable token.

    `reason`: `not_connected` (nothing stored, or a record of another user), `unreadable` (a record the app's keys
    cannot open), `no_refresh_token` (expired, and nothing to refresh it with), `grant_ended` (the provider refused
    the refresh token: revoked or expired), `not_configured` (no OAuth2 client to refresh with), `refresh_busy` (another
    refresh of this user's token did not end in time), `refresh_unavailable` (the refresh lock cannot be reached).
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class _RefreshedElsewhere(Exception):
    def __init__(self, record: TokenRecord) -> None:
        self.record = record
        super().__init__("refreshed elsewhere")


class UserTokens:
    def __init__(
        self,
        *,
        provider: OAuth2Provider,
        cipher: TokenCipher,
        client_for: Callable[[CallRequest], AppsClient],
        lock: RefreshLock,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
    ) -> None:
        self._provider = provider
        self._cipher = cipher
        self._client_for = client_for
        self._lock = lock
        self._margin = refresh_margin

    # -- reading and writing ------------------------------------------------------------------------

    def load(self, call: CallRequest) -> TokenRecord | None:
        """The record in the call's context; None when the user never connected, disconnected, or the slot holds
        another user's record. Raises UnreadableRecord when a record is there but cannot be decrypted."""
        oauth2 = call.context.oauth2
        return self._open(oauth2.user, call) if oauth2.has_user else None

    def is_connected(self, call: CallRequest) -> bool:
        """Whether a record of this app's shape is stored: enough to draw the commands, with no decryption. The
        command that uses it finds out if it cannot be read."""
        return call.context.oauth2.has_user and self._cipher.is_sealed(call.context.oauth2.user)

    def save(self, call: CallRequest, record: TokenRecord) -> None:
        self._client_for(call).store_oauth2_user(self._cipher.seal(record, user_id=call.context.acting_user_id))

    def clear(self, call: CallRequest) -> None:
        self._client_for(call).store_oauth2_user(None)

    def stored(self, call: CallRequest) -> TokenRecord | None:
        """The record Mattermost holds now (one round trip): it may be newer than the call's context."""
        stored = self._client_for(call).get_oauth2_user()
        return self._open(stored, call) if stored is not None else None

    # -- using the token ------------------------------------------------------------------------------

    def use(self, call: CallRequest, use: Callable[[TokenRecord], T]) -> T:
        """`use(record)` with a record whose access token is not about to expire. If the API refuses an unexpired
        token anyway (revoked at the provider, or expired early), refresh once and try again."""
        record = self._loaded(call)
        if record.is_stale(margin=self._margin):
            if not record.refresh_token and not record.is_stale(margin=0):
                return use(record)  # nothing to refresh it with, but good for a few seconds more
            return self._refreshed(call, record, use)
        try:
            return use(record)
        except ProviderError as exc:
            if exc.reason != "unauthorized":
                raise
        return self._refreshed(call, record, use)

    def _loaded(self, call: CallRequest) -> TokenRecord:
        try:
            record = self.load(call)
        except UnreadableRecord as exc:
            log.warning("user %s: stored record unreadable: %s", call.context.acting_user_id, exc)
            raise TokenUnavailable("unreadable") from None
        if record is None:
            raise TokenUnavailable("not_connected")
        return record

    def _refreshed(self, call: CallRequest, record: TokenRecord, use: Callable[[TokenRecord], T]) -> T:
        user_id = call.context.acting_user_id
        oauth2 = call.context.oauth2
        if not record.refresh_token:
            self._clear_if_still(call, record)  # an expired token, and nothing to renew it with
            raise TokenUnavailable("no_refresh_token")
        if not oauth2.is_configured:
            raise TokenUnavailable("not_configured")
        # Refresh only what can be stored: this raises (no user token, a site URL not trusted) before anything is sent.
        self._client_for(call)
        left = time_left()
        try:
            with self._lock.hold(user_id, timeout=LOCK_WAIT_SECONDS if left is None else max(left, 0.0)) as lease:
                latest = self._latest(call, record, lease)
                if latest.refresh_token != record.refresh_token and not latest.is_stale(margin=self._margin):
                    return use(latest)  # refreshed by another call while this one waited
                record = latest
                lease.check()  # never send a refresh token under a lock another process may now hold
                try:
                    refreshed = self._refresh(call, record)
                except _RefreshedElsewhere as exc:  # refused, but another call had already traded it in: no dead grant
                    return use(exc.record)
                parked = refreshed.refresh_token != record.refresh_token and self._park(user_id, record, refreshed)
                store = _STORE_POOL.submit(contextvars.copy_context().run, self._store_refreshed, call, refreshed, lease, parked)
                try:
                    return use(refreshed)  # while the refreshed record is being stored
                finally:
                    _wait(store, user_id)
        except LockUnavailable as exc:
            log.warning("user %s: refresh lock %s", user_id, exc.reason)
            raise TokenUnavailable("refresh_busy" if exc.reason in ("busy", "lost") else "refresh_unavailable") from None

    def _latest(self, call: CallRequest, record: TokenRecord, lease: Lease) -> TokenRecord:
        """The newest record of the user, read inside the lock: a rotated record a store could not keep (parked), or,
        for a provider that rotates refresh tokens, the stored one. Either way, a refresh token another call has traded
        in is never sent. Fails (the error of the read) rather than refresh from a record it could not check."""
        user_id = call.context.acting_user_id
        parked = self._unparked(user_id)
        if parked is None and not self._provider.rotates_refresh_tokens:
            return record
        try:
            stored = self.stored(call)
        except UnreadableRecord as exc:
            log.warning("user %s: stored record unreadable: %s", user_id, exc)
            raise TokenUnavailable("unreadable") from None
        if parked is not None:
            replaces, kept = parked
            if stored is not None and _digest(stored.refresh_token) == replaces:
                # Mattermost still holds the record this one replaced: store it now; the user's call goes on with it.
                lease.check()
                self._store(call, kept)
                log.info("user %s: stored the refreshed record an earlier call could not store", user_id)
                stored = kept
            self._lock.unpark(user_id)  # stored now, or replaced since (a reconnect, a disconnect)
        if stored is None or not stored.refresh_token:
            raise TokenUnavailable("not_connected")  # disconnected (or reconnected elsewhere) while this call waited
        return stored

    def _park(self, user_id: str, old: TokenRecord, new: TokenRecord) -> bool:
        """Keep a rotated record where the next call on any worker finds it, until Mattermost has stored it."""
        value = json.dumps({"replaces": _digest(old.refresh_token), "record": self._cipher.seal(new, user_id=user_id)})
        try:
            self._lock.park(user_id, value)
        except LockUnavailable:  # the store in Mattermost may still succeed
            log.warning("user %s: could not keep the refreshed record beside the refresh lock", user_id)
            return False
        return True

    def _unparked(self, user_id: str) -> tuple[str, TokenRecord] | None:
        """The parked record of `user_id` and the digest of the refresh token it replaced, if there is one."""
        value = self._lock.parked(user_id)
        if value is None:
            return None
        try:
            parked = json.loads(value)
            record = self._cipher.open(parked["record"], user_id=user_id)
            return str(parked["replaces"]), record
        except (ValueError, KeyError, TypeError, UnreadableRecord) as exc:
            log.warning("user %s: a parked record is unreadable (%s): dropped", user_id, type(exc).__name__)
            self._lock.unpark(user_id)
            return None

    def _refresh(self, call: CallRequest, record: TokenRecord) -> TokenRecord:
        """The refreshed record. Raises _RefreshedElsewhere if the provider refused the refresh token but Mattermost
        now holds a newer record (another worker or replica refreshed first)."""
        oauth2 = call.context.oauth2
        try:
            grant = self._provider.refresh(
                client_id=oauth2.client_id, client_secret=oauth2.client_secret, refresh_token=record.refresh_token or ""
            )
        except ProviderError as exc:
            if exc.reason == "invalid_grant":
                newer = self._clear_if_still(call, record)
                if newer is not None and newer.refresh_token != record.refresh_token:
                    raise _RefreshedElsewhere(newer) from None
                raise TokenUnavailable("grant_ended") from None
            raise
        if grant.refresh_token != record.refresh_token and not self._provider.rotates_refresh_tokens:
            log.warning(
                "the provider rotated a refresh token, but its class says it does not: set OAUTH2_ROTATES_REFRESH_TOKENS=true"
            )
        return record.with_grant(grant)

    def _store_refreshed(self, call: CallRequest, record: TokenRecord, lease: Lease, parked: bool) -> None:
        user_id = call.context.acting_user_id
        if parked:
            try:
                lease.check()
            except LockUnavailable as exc:
                if exc.reason == "lost":  # a late holder never overwrites what the lock's next holder stored
                    log.warning("user %s: the refresh lock was lost: the record stays parked for the next call", user_id)
                    return
        self._store(call, record)
        if parked:
            self._lock.unpark(user_id)

    def _store(self, call: CallRequest, record: TokenRecord) -> None:
        for attempt in range(1, STORE_ATTEMPTS + 1):
            try:
                self.save(call, record)
                return
            except MattermostError as exc:
                left = time_left()
                if exc.reason not in ("unreachable", "failed") or attempt == STORE_ATTEMPTS or (left is not None and left <= 0):
                    raise

    def _clear_if_still(self, call: CallRequest, dead: TokenRecord) -> TokenRecord | None:
        """Clear the record of a dead grant, unless Mattermost now holds another one (a reconnect, a refresh elsewhere):
        that one is returned."""
        user_id = call.context.acting_user_id
        try:
            stored = self.stored(call)
            if stored is not None and stored.access_token != dead.access_token:
                log.info("user %s: the grant of this call's record has ended, but a newer record is stored: kept", user_id)
                return stored
            log.info("user %s: the grant has ended; clearing the record", user_id)
            self.clear(call)
        except (MattermostError, UnreadableRecord) as exc:  # the user is told to reconnect either way
            log.warning("user %s: could not clear the record: %s", user_id, exc)
        return None

    def _open(self, stored: object, call: CallRequest) -> TokenRecord | None:
        try:
            return self._cipher.open(stored, user_id=call.context.acting_user_id)
        except RecordOfAnotherUser:
            log.warning("user %s: the stored record belongs to another user: ignored", call.context.acting_user_id)
            return None


def _digest(refresh_token: str | None) -> str:
    return hashlib.sha256((refresh_token or "").encode()).hexdigest()


def _wait(store: Future[None], user_id: str) -> None:
    try:
        store.result(timeout=time_left())
    except Exception as exc:  # noqa: BLE001 - the user still gets the answer; the record stays parked for the next call
        log.warning("user %s: could not store the refreshed token: %s", user_id, exc)
