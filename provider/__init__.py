"""The OAuth2 provider: authorization URL, code exchange, refresh, revocation, identity, and the API the commands use.

`AppProvider` is the provider class this app uses: switching provider is changing the one line that names it to
another subclass of `OAuth2Provider` (docs/adapting.md).
"""

from .calendar import CALENDAR_SCOPE, Calendar, CalendarEvent, GoogleCalendar
from .errors import ProviderError
from .google import Google as AppProvider
from .oauth2 import GrantTokens, Identity, OAuth2Provider, RevokeOutcome, TokenGrant

__all__ = [
    "CALENDAR_SCOPE",
    "AppProvider",
    "Calendar",
    "CalendarEvent",
    "GoogleCalendar",
    "GrantTokens",
    "Identity",
    "OAuth2Provider",
    "ProviderError",
    "RevokeOutcome",
    "TokenGrant",
]
