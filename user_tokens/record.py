"""The record the app keeps for each connected user, and its encrypted form in Mattermost.

Stored through `POST /oauth2/user` as `{"v": 1, "fernet": "<ciphertext>"}`. The plaintext holds what a
refresh needs, who the user is at the provider, and the Mattermost user it belongs to (`user_id`: a record copied
into another user's slot opens as no record); never the client secret (it comes with each call from
`context.oauth2`), never the id_token (not needed, and large). A record sealed before `user_id` was added is read
as the record of whoever it is stored for, and bound at its next write.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from provider import Identity, TokenGrant

RECORD_VERSION = 1


class UnreadableRecord(Exception):
    """The stored record cannot be decrypted or parsed (another key, or not ours): treat as not connected."""


class RecordOfAnotherUser(UnreadableRecord):
    """The stored record opens, but is bound to another Mattermost user: treat as no record at all."""


@dataclass(frozen=True)
class TokenRecord:
    access_token: str
    refresh_token: str | None
    expires_at: float | None
    scope: str
    token_type: str
    identity: Identity

    @classmethod
    def from_grant(cls, grant: TokenGrant, identity: Identity) -> TokenRecord:
        return cls(grant.access_token, grant.refresh_token, grant.expires_at, grant.scope, grant.token_type, identity)

    def with_grant(self, grant: TokenGrant) -> TokenRecord:
        return replace(
            self,
            access_token=grant.access_token,
            refresh_token=grant.refresh_token or self.refresh_token,
            expires_at=grant.expires_at,
            scope=grant.scope or self.scope,
            token_type=grant.token_type,
        )

    def is_stale(self, *, margin: float, now: float | None = None) -> bool:
        """True when the access token expires within `margin` seconds (unknown expiry counts as fresh)."""
        if self.expires_at is None:
            return False
        return self.expires_at - margin <= (time.time() if now is None else now)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> TokenRecord:
        if not isinstance(data, dict):
            raise UnreadableRecord("the record is not an object")
        try:
            ident = data["identity"]
            identity = Identity(sub=str(ident["sub"]), email=str(ident.get("email", "")), name=str(ident.get("name", "")))
            access_token = data["access_token"]
            if not isinstance(access_token, str) or not access_token:
                raise UnreadableRecord("the record has no access token")
            refresh_token = data.get("refresh_token")
            expires_at = data.get("expires_at")
            return cls(
                access_token=access_token,
                refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
                expires_at=float(expires_at) if isinstance(expires_at, int | float) else None,
                scope=str(data.get("scope") or ""),
                token_type=str(data.get("token_type") or "Bearer"),
                identity=identity,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UnreadableRecord(f"the record is malformed ({type(exc).__name__})") from None


class TokenCipher:
    """Fernet (AES-128-CBC + HMAC-SHA256) with key rotation: the first key encrypts, every key decrypts."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("TokenCipher needs at least one key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def seal(self, record: TokenRecord, *, user_id: str) -> dict[str, Any]:
        """The stored form of `record`, bound to the Mattermost user `user_id`."""
        # UTF-8 rather than \u escapes: a non-ASCII name costs 2-4 bytes a character, not 6-12, under the 8 KiB limit.
        # `surrogatepass` keeps a lone surrogate from the provider's JSON sealable; json.loads reads it back.
        data = {"user_id": user_id, **record.to_json()}
        plaintext = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
        return {"v": RECORD_VERSION, "fernet": self._fernet.encrypt(plaintext).decode("ascii")}

    @staticmethod
    def is_sealed(stored: Any) -> bool:
        """Whether `stored` has the shape of a record this app seals (without decrypting it)."""
        return _ciphertext(stored) is not None

    def open(self, stored: Any, *, user_id: str) -> TokenRecord:
        """The record in `stored`, if it is the record of the Mattermost user `user_id`."""
        ciphertext = _ciphertext(stored)
        if ciphertext is None:
            raise UnreadableRecord("the stored record is not an encrypted record of this app")
        try:
            plaintext = self._fernet.decrypt(ciphertext.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise UnreadableRecord("the stored record does not decrypt with the app's keys") from None
        try:
            data = json.loads(plaintext)
        except ValueError:
            raise UnreadableRecord("the decrypted record is not JSON") from None
        if isinstance(data, dict) and data.get("user_id", user_id) != user_id:
            raise RecordOfAnotherUser("the record is bound to another Mattermost user")
        return TokenRecord.from_json(data)


def _ciphertext(stored: Any) -> str | None:
    """The Fernet token of a record in this app's stored shape `{"v": 1, "fernet": ...}`, else None."""
    if not isinstance(stored, dict) or stored.get("v") != RECORD_VERSION or not isinstance(stored.get("fernet"), str):
        return None
    return stored["fernet"]
