"""The OAuth2 provider: authorization URL, code exchange, refresh, revocation, identity, and the API the commands use.

`Provider` is the provider this app talks to; switching provider means pointing it at another subclass of
`OAuth2Provider` (docs/adapting.md).
"""

from .calendar import CALENDAR_SCOPE, Calendar, CalendarEvent, GoogleCalendar
from .errors import ProviderError
from .google import Google as Provider
from .oauth2 import Identity, OAuth2Provider, RevokeOutcome, TokenGrant

__all__ = [
    "CALENDAR_SCOPE",
    "Calendar",
    "CalendarEvent",
    "GoogleCalendar",
    "Identity",
    "OAuth2Provider",
    "Provider",
    "ProviderError",
    "RevokeOutcome",
    "TokenGrant",
]
