"""The two calls of the plugin's remote OAuth2 flow.

`/oauth2/connect`: the plugin made a single-use `state` bound to the user and wants the provider's
authorization URL (it 307-redirects the browser there). `/oauth2/complete`: the provider sent the browser
back and the plugin, having checked the state, passes every query parameter as `values`. Its success page
is fixed and tiny, so the bot also confirms in a direct message; an error here is shown as plain text.
"""

from __future__ import annotations

import logging
import re

from mattermost_apps import CallRequest, CallResponse, MattermostError, after_response, error, ok
from provider import AppProvider, GrantTokens, ProviderError, pkce
from services import Services
from user_tokens import TokenRecord, UnreadableRecord

from .messages import failure, permission, text

log = logging.getLogger(__name__)

_SAFE_ERROR_CODE = re.compile(r"[^A-Za-z0-9_.-]")


def authorization_url(call: CallRequest, services: Services) -> CallResponse:
    oauth2 = call.context.oauth2
    if not call.context.acting_user_id:
        # A browser with no Mattermost session (a link from the mobile app opened elsewhere): the plugin lets it
        # through with no user, and nothing could be stored at the end of the consent.
        return error(text("oauth2.no_session"))
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
    user_id = call.context.acting_user_id
    if not user_id:
        return error(text("oauth2.no_session"))
    provider_error = call.value("error")
    if provider_error:
        code = _SAFE_ERROR_CODE.sub("", provider_error)[:64]
        log.info("user %s: provider answered error=%s", user_id, code)
        if code == "access_denied":
            return _not_connected(call, services, text("oauth2.access_denied"))
        return _not_connected(call, services, text("oauth2.provider_refused", code=f" ({code})" if code else ""))
    code = call.value("code")
    state = call.value("state")
    if not code or not state:
        return error(text("oauth2.no_code"))
    if state.rpartition(".")[2] != user_id:
        # The plugin ends the state with the id of the user it was made for. Another user's code and state (seen in
        # a URL, a log, a screen) must not become this user's connection: refuse before anything is exchanged.
        log.warning("user %s: refused a complete whose state was made for another user", user_id)
        return error(text("oauth2.state_not_yours"))
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
        log.warning("user %s: code exchange failed: %s", user_id, exc)
        return error(failure(exc))

    # The record this call replaces, if any (`oauth2_user` is expanded for complete). The provider revokes per user
    # and client (Google does): revoking a grant of the same account would end the stored one too.
    previous = _previous_record(call, services)
    try:
        identity = services.provider.identity(grant, client_id=oauth2.client_id)
        record = TokenRecord.from_grant(grant, identity)
    except ProviderError as exc:
        log.warning("user %s: connect failed after the code exchange: %s", user_id, exc)
        if previous is None:  # with an account connected, this grant may be that account's: keep it alive
            _revoke_quietly(grant, call, services)
        return error(text("oauth2.not_connected_after", reason=failure(exc)))
    try:
        services.tokens.save(call, record)
    except MattermostError as exc:  # logged where it was raised
        if not _stored_anyway(call, services, record, exc):
            if previous is None or previous.identity.sub != identity.sub:
                _revoke_quietly(grant, call, services)
            return error(text("oauth2.not_connected_after", reason=failure(exc)))

    # The plugin's completion page waits for this answer; the confirmation and the clean-up need not.
    sentence = text("oauth2.connected_dm", who=identity.account_name)
    if previous is not None and previous.identity.sub != identity.sub:
        # Another account replaces the stored one, now that the new record is safe: end the old account's grant.
        sentence += text("oauth2.switched_dm", previous=previous.identity.account_name)
        after_response(lambda: _revoke_quietly(previous, call, services))
    sentence += _missing_scopes_sentence(record, services) or text("oauth2.try_dm")
    after_response(lambda: _direct_message(call, services, sentence))
    return ok()


def _previous_record(call: CallRequest, services: Services) -> TokenRecord | None:
    try:
        return services.tokens.load(call)
    except UnreadableRecord:
        return None


def _missing_scopes_sentence(record: TokenRecord, services: Services) -> str:
    """What the user did not allow on the consent screen, and which command that stops; "" when they allowed it all."""
    sentences = []
    for command in services.commands:
        if missing := services.provider.missing_scopes(record.scope, command.scopes):
            name = f"`/{AppProvider.command} {command.label}`"
            sentences.append(text("scope.missing_dm", permission=permission(command.label, missing), commands=name))
    return "".join(sentences)


def _not_connected(call: CallRequest, services: Services, sentence: str) -> CallResponse:
    """The user cancelled, or the provider refused: the plugin shows this sentence on a bare page, which a user on a
    phone may close unread. The bot posts it too, so it waits in Mattermost."""
    after_response(lambda: _direct_message(call, services, sentence))
    return error(sentence)


def _stored_anyway(call: CallRequest, services: Services, record: TokenRecord, exc: MattermostError) -> bool:
    """After a store whose outcome is unknown (no answer, or a 5xx), whether Mattermost holds the record after all:
    revoking a grant it holds would leave the user connected to a dead token."""
    if exc.reason not in ("unreachable", "failed"):
        return False
    try:
        stored = services.tokens.stored(call)
    except (MattermostError, UnreadableRecord):
        return False
    if stored is not None and stored.access_token == record.access_token:
        log.info("user %s: the record was stored despite the error", call.context.acting_user_id)
        return True
    return False


def _revoke_quietly(tokens: GrantTokens, call: CallRequest, services: Services) -> None:
    """End a grant no record holds any more (never stored, or replaced by another account's), best effort."""
    oauth2 = call.context.oauth2
    services.provider.revoke_grant(tokens, client_id=oauth2.client_id, client_secret=oauth2.client_secret)


def _direct_message(call: CallRequest, services: Services, message: str) -> None:
    context = call.context
    try:
        services.mattermost.as_bot(call).send_direct_message(context.bot_user_id, context.acting_user_id, message)
    except MattermostError as exc:  # a lost message must never undo or fail what it reports
        log.warning("user %s: the direct message failed: %s", context.acting_user_id, exc)
