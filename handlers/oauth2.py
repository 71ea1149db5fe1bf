"""The two calls of the plugin's remote OAuth2 flow.

`/oauth2/connect`: the plugin made a single-use `state` bound to the user and wants the provider's
authorization URL (it 307-redirects the browser there). `/oauth2/complete`: the provider sent the browser
back and the plugin, having checked the state, passes every query parameter as `values`. Its success page
is fixed and tiny, so the bot also confirms in a direct message; an error here is shown as plain text.
"""

from __future__ import annotations

import logging
import re

from mattermost_apps import CallRequest, CallResponse, MattermostError, error, ok
from provider import ProviderError, TokenGrant, pkce
from services import Services
from user_tokens import TokenRecord

from .messages import failure, text

log = logging.getLogger(__name__)

_SAFE_ERROR_CODE = re.compile(r"[^A-Za-z0-9_.-]")


def connect(call: CallRequest, services: Services) -> CallResponse:
    oauth2 = call.context.oauth2
    if not oauth2.client_id:
        return error(text("not_configured"))
    if not oauth2.complete_url:
        return error(text("oauth2.no_complete_url"))
    state = call.value("state")
    if not state:
        return error(text("oauth2.no_state"))
    verifier = pkce.code_verifier(services.settings.pkce_key, state)
    url = services.provider.authorization_url(
        client_id=oauth2.client_id,
        redirect_uri=oauth2.complete_url,
        state=state,
        code_challenge=pkce.code_challenge(verifier),
    )
    return ok(data=url)


def complete(call: CallRequest, services: Services) -> CallResponse:
    provider_error = call.value("error")
    if provider_error:
        code = _SAFE_ERROR_CODE.sub("", provider_error)[:64]
        log.info("user %s: provider answered error=%s", call.context.acting_user_id, code)
        if code == "access_denied":
            return error(text("oauth2.access_denied"))
        return error(text("oauth2.provider_refused", code=f" ({code})" if code else ""))
    code = call.value("code")
    state = call.value("state")
    if not code or not state:
        return error(text("oauth2.no_code"))
    oauth2 = call.context.oauth2
    if not oauth2.is_configured:
        return error(text("not_configured"))

    try:
        grant = services.provider.exchange_code(
            client_id=oauth2.client_id,
            client_secret=oauth2.client_secret,
            redirect_uri=oauth2.complete_url,
            code=code,
            code_verifier=pkce.code_verifier(services.settings.pkce_key, state),
        )
    except ProviderError as exc:
        log.warning("user %s: code exchange failed: %s", call.context.acting_user_id, exc)
        return error(failure(exc))

    try:
        identity = services.provider.identity(grant.access_token)
        services.tokens.save(call, TokenRecord.from_grant(grant, identity))
    except (ProviderError, MattermostError) as exc:
        if isinstance(exc, ProviderError):  # a MattermostError was logged where it was raised
            log.warning("user %s: connect failed after the code exchange: %s", call.context.acting_user_id, exc)
        _revoke_quietly(grant, call, services)
        return error(text("oauth2.not_connected_after", reason=failure(exc)))

    _confirm_by_direct_message(call, services, identity.email or identity.name or identity.sub)
    return ok()


def _revoke_quietly(grant: TokenGrant, call: CallRequest, services: Services) -> None:
    """Nothing was stored, so the grant we just obtained would only linger at the provider."""
    oauth2 = call.context.oauth2
    services.provider.revoke(
        grant.refresh_token or grant.access_token, client_id=oauth2.client_id, client_secret=oauth2.client_secret
    )


def _confirm_by_direct_message(call: CallRequest, services: Services, who: str) -> None:
    context = call.context
    try:
        services.mattermost.as_bot(call).send_direct_message(
            context.bot_user_id, context.acting_user_id, text("oauth2.connected_dm", who=who)
        )
    except MattermostError as exc:  # the account is connected; a lost confirmation must not undo that
        log.warning("user %s: connected, but the confirmation DM failed: %s", context.acting_user_id, exc)
