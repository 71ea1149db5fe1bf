"""The sentences users see when something fails, in one place so they stay consistent."""

from __future__ import annotations

from provider import ProviderError

CONFIGURE = "/google configure"
CONNECT = "/google connect"

NOT_CONFIGURED = f"The Google OAuth2 client is not configured yet: ask a system admin to run `{CONFIGURE}`."
ADMIN_ONLY = "Only a Mattermost system admin can configure the Google OAuth2 client."


def provider_failure(exc: ProviderError) -> str:
    """One sentence for a failed exchange with the provider, by reason."""
    action = exc.operation or "talk to Google"
    if exc.reason == "invalid_grant":
        return f"Google did not accept the grant (it expired, was revoked or was already used): run `{CONNECT}` again."
    if exc.reason == "invalid_client":
        return f"Google rejected the app's OAuth2 client ID or secret: ask a system admin to check `{CONFIGURE}`."
    if exc.reason == "unavailable":
        return f"Google could not be reached to {action}; please try again in a minute."
    if exc.reason == "unauthorized":
        return f"Google did not accept your access token: run `{CONNECT}` again."
    if exc.reason == "forbidden":
        return f"Google refused to {action} ({exc.detail}): run `{CONNECT}` again and allow the requested access."
    return f"Google gave an answer the app could not use while trying to {action}; please try again."
