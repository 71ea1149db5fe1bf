"""The user's token, from the call's context to a usable access token, and back to Mattermost.

The record arrives in `context.oauth2.user` (expand `oauth2_user: all`), so reading it costs no round
trip. A stale access token is refreshed (once, with a margin) and the refreshed record is stored back
with the acting user's token; a grant the provider no longer honours clears the record.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable

from mattermost_apps import AppsClient, CallRequest
from provider import OAuth2Provider, ProviderError

from .record import TokenCipher, TokenRecord, UnreadableRecord

log = logging.getLogger(__name__)

REFRESH_MARGIN_SECONDS = 60.0
_ROTATION_MEMORY_SECONDS = 120.0


class TokenUnavailable(Exception):
    """The call cannot get a usable token.

    `reason`: `not_connected` (nothing stored), `unreadable` (a record the app's keys cannot open), `no_refresh_token`
    (expired, and nothing to refresh it with), `grant_ended` (the provider refused the refresh token: revoked or
    expired), `not_configured` (no OAuth2 client to refresh with).
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class UserTokens:
    def __init__(
        self,
        *,
        provider: OAuth2Provider,
        cipher: TokenCipher,
        client_for: Callable[[CallRequest], AppsClient],
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
    ) -> None:
        self._provider = provider
        self._cipher = cipher
        self._client_for = client_for
        self._margin = refresh_margin
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        # sha256(refresh token) -> when this process traded it in. A call whose context still carries a
        # traded-in refresh token re-reads the stored record instead of replaying it: a provider that
        # rotates refresh tokens revokes the whole grant on a replay. Hashes only, never tokens.
        self._traded_in: dict[str, float] = {}

    # -- reading and writing ------------------------------------------------------------------------

    def load(self, call: CallRequest) -> TokenRecord | None:
        """The record in the call's context; None when the user never connected or disconnected.

        Raises UnreadableRecord when a record is there but cannot be decrypted.
        """
        oauth2 = call.context.oauth2
        if not oauth2.has_user:
            return None
        return self._cipher.open(oauth2.user)

    def is_connected(self, call: CallRequest) -> bool:
        """`load(call) is not None`, an unreadable record counting as not connected."""
        try:
            return self.load(call) is not None
        except UnreadableRecord:
            return False

    def save(self, call: CallRequest, record: TokenRecord) -> None:
        self._client_for(call).store_oauth2_user(self._cipher.seal(record))

    def clear(self, call: CallRequest) -> None:
        self._client_for(call).store_oauth2_user(None)

    # -- a usable token -----------------------------------------------------------------------------

    def usable(self, call: CallRequest) -> TokenRecord:
        """The user's record with an access token that is not about to expire."""
        try:
            record = self.load(call)
        except UnreadableRecord as exc:
            log.warning("user %s: stored record unreadable: %s", call.context.acting_user_id, exc)
            raise TokenUnavailable("unreadable") from None
        if record is None:
            raise TokenUnavailable("not_connected")
        if record.is_stale(margin=self._margin):
            record = self.refresh(call, record)
        return record

    def refresh(self, call: CallRequest, record: TokenRecord) -> TokenRecord:
        """Trade the refresh token for a new access token and store the result."""
        user_id = call.context.acting_user_id
        if not record.refresh_token:
            self._clear_quietly(call)
            raise TokenUnavailable("no_refresh_token")
        oauth2 = call.context.oauth2
        if not oauth2.is_configured:
            raise TokenUnavailable("not_configured")
        lock = self._lock_for(user_id)
        waited = not lock.acquire(blocking=False)
        if waited:
            lock.acquire()
        try:
            if waited or self._was_traded_in(record.refresh_token):
                latest = self._latest_stored(call)
                if latest is not None and latest.refresh_token != record.refresh_token:
                    if not latest.is_stale(margin=self._margin):
                        return latest
                    record = latest
            try:
                grant = self._provider.refresh(
                    client_id=oauth2.client_id, client_secret=oauth2.client_secret, refresh_token=record.refresh_token or ""
                )
            except ProviderError as exc:
                if exc.reason == "invalid_grant":
                    log.info("user %s: refresh token no longer valid; clearing the record", user_id)
                    self._clear_quietly(call)
                    raise TokenUnavailable("grant_ended") from None
                raise
            self._remember_traded_in(record.refresh_token or "")
            refreshed = record.with_grant(grant)
            try:
                self.save(call, refreshed)
            except Exception as exc:  # noqa: BLE001 - the user still gets this answer; the next call refreshes again
                log.warning("user %s: could not store the refreshed token: %s", user_id, exc)
            return refreshed
        finally:
            lock.release()

    # -- internals ----------------------------------------------------------------------------------

    def _latest_stored(self, call: CallRequest) -> TokenRecord | None:
        try:
            stored = self._client_for(call).get_oauth2_user()
            return self._cipher.open(stored) if stored is not None else None
        except Exception as exc:  # noqa: BLE001 - best effort: fall back to refreshing what we have
            log.info("could not re-read the stored record: %s", type(exc).__name__)
            return None

    def _clear_quietly(self, call: CallRequest) -> None:
        try:
            self.clear(call)
        except Exception as exc:  # noqa: BLE001 - the user is told to reconnect either way
            log.warning("user %s: could not clear the record: %s", call.context.acting_user_id, exc)

    def _lock_for(self, user_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(user_id, threading.Lock())

    def _was_traded_in(self, refresh_token: str | None) -> bool:
        if not refresh_token:
            return False
        return _digest(refresh_token) in self._traded_in

    def _remember_traded_in(self, refresh_token: str) -> None:
        now = time.monotonic()
        with self._locks_guard:
            for key in [k for k, at in self._traded_in.items() if now - at > _ROTATION_MEMORY_SECONDS]:
                del self._traded_in[key]
            self._traded_in[_digest(refresh_token)] = now


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
