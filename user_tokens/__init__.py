"""The connected user's token: its encrypted record in Mattermost, and refresh when stale."""

from .record import TokenCipher, TokenRecord, UnreadableRecord
from .service import NotConnected, ReconnectNeeded, TokenUnavailable, UserTokens

__all__ = ["NotConnected", "ReconnectNeeded", "TokenCipher", "TokenRecord", "TokenUnavailable", "UnreadableRecord", "UserTokens"]
