"""The OAuth2 provider side: authorization URL, code exchange, refresh, revocation, identity, Calendar API."""

from .calendar import CalendarEvent, GoogleCalendar
from .errors import ProviderError
from .oauth2 import Identity, OAuth2Provider, TokenGrant

__all__ = ["CalendarEvent", "GoogleCalendar", "Identity", "OAuth2Provider", "ProviderError", "TokenGrant"]
