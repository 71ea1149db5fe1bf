"""The connected user's token: its encrypted record in Mattermost, refreshed when stale under a refresh lock."""

from .locks import HostLock, LockUnavailable, RedisLock, RefreshLock
from .record import RecordOfAnotherUser, TokenCipher, TokenRecord, UnreadableRecord
from .service import TokenUnavailable, UserTokens

__all__ = [
    "HostLock",
    "LockUnavailable",
    "RecordOfAnotherUser",
    "RedisLock",
    "RefreshLock",
    "TokenCipher",
    "TokenRecord",
    "TokenUnavailable",
    "UnreadableRecord",
    "UserTokens",
]
