"""The connected user's token: its encrypted record in Mattermost, and refresh when stale."""

from .record import TokenCipher, TokenRecord, UnreadableRecord
from .service import TokenUnavailable, UserTokens

__all__ = ["TokenCipher", "TokenRecord", "TokenUnavailable", "UnreadableRecord", "UserTokens"]
