"""Every sentence a user or an admin reads, in one catalogue keyed by reason, and the one lookup that words them.

`text(key, **params)` fills a sentence; `{provider}`, `{command}`, `{connect}` and `{configure}` are always
available. `failure(exc)` words any error the app's packages raise, from its reason code. The user's locale comes
with every call (`expand.locale`); `text` reads it from the call being handled. English is the only language for
now: a translation is another catalogue in `CATALOGUES`, and no handler changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mattermost_apps import BadCallRequest, CallTooLarge, JWTRejected, MattermostError, current_call
from mattermost_apps.client import MAX_STORED_BYTES
from mattermost_apps.jwt_auth import ALGORITHM, HEADER
from provider import AppProvider, ProviderError
from user_tokens import TokenUnavailable

_SECRET_HINT = (  # a sentence, not a secret
    "check that the install dialog's \"Outgoing JWT Secret\" is the app's APP_SECRET (reinstall with /apps install to change it)"  # noqa: S105
)

EN: dict[str, str] = {
    # -- the call itself (mattermost_apps.CallRouter) -----------------------------------------------
    "jwt.missing_header": f"The call has no {HEADER} header: {_SECRET_HINT}, and that the manifest sets use_jwt.",
    "jwt.bad_scheme": f'The {HEADER} header must be "Bearer <jwt>".',
    "jwt.expired": "The call's JWT has expired: check that the clocks of the Mattermost server and the app agree.",
    "jwt.missing_exp": "The call's JWT has no exp claim, so it is refused.",
    "jwt.bad_exp": "The call's JWT has an exp claim that is not a number, so it is refused.",
    "jwt.exp_too_far": "The call's JWT is valid for longer than the Apps plugin ever signs one, so it is refused: check that the clocks of the Mattermost server and the app agree.",
    "jwt.bad_algorithm": f"The call's JWT is not signed with {ALGORITHM}, so it is refused.",
    "jwt.bad_signature": f"The call's JWT signature does not match: {_SECRET_HINT}.",
    "jwt.malformed": f"The call's JWT is malformed: {_SECRET_HINT}.",
    "jwt.bad_acting_user_id": "The call's JWT has an acting_user_id that is not a string.",
    "jwt.acting_user_mismatch": "The call's acting user does not match its JWT, so it is refused.",
    "call.empty_body": "The request body is empty: expected a CallRequest JSON object.",
    "call.not_json": "The request body is not valid JSON.",
    "call.not_an_object": "The request body must be a JSON object (a CallRequest).",
    "call.wrong_type": "The field {field} must be {expected}.",
    "call.bad_expand_level": "The expand level of {field} must be a string.",
    "call.bad_value": "The value {field} must be a string.",
    "call.bad_text": "The field {field} holds text that is not valid Unicode (a lone surrogate).",
    "call.too_large": "The request body is larger than {kib} KiB.",
    "unexpected": "The app failed unexpectedly while handling this command; the admin can find the reason in its log.",
    # -- Mattermost (mattermost_apps.MattermostError) -----------------------------------------------
    "mattermost.unreachable": "Mattermost could not be reached from the app; please try again in a minute.",
    "mattermost.refused": "Mattermost refused to {operation} (HTTP {status}).",
    "mattermost.failed": "Mattermost failed to {operation} (HTTP {status}); please try again.",
    "mattermost.bad_answer": "Mattermost gave an answer the app could not use while trying to {operation}; please try again.",
    "mattermost.too_large": "The data to {operation} is too large for Mattermost ({detail}, over the {limit}-byte limit).",
    "mattermost.missing_token": "The call carried no {detail}, so the app cannot act for you (check the call's expand).",
    "mattermost.bad_site_url": "The call names a Mattermost site URL the app cannot use, so it is refused.",
    "mattermost.not_pinned": "The app does not know yet which Mattermost it serves: a system admin installs it again with /apps install, or sets MATTERMOST_SITE_URL.",
    "mattermost.untrusted_site_url": "The call names another Mattermost than the one this app serves, so it is refused (an admin can pin it with MATTERMOST_SITE_URL).",
    "mattermost_operation.store_oauth2_app": "store the OAuth2 client",
    "mattermost_operation.store_oauth2_user": "store your connection",
    "mattermost_operation.get_oauth2_user": "read your connection",
    "mattermost_operation.kv_get": "read from the KV store",
    "mattermost_operation.kv_set": "write to the KV store",
    "mattermost_operation.kv_delete": "delete from the KV store",
    "mattermost_operation.open_dm": "open a direct message channel",
    "mattermost_operation.post_dm": "post a direct message",
    "mattermost_operation.authenticate": "authenticate to Mattermost",
    # -- the provider (provider.ProviderError) ------------------------------------------------------
    "provider.invalid_grant": "{provider} did not accept the grant (it expired, was revoked or was already used): run {connect} again.",
    "provider.invalid_client": "{provider} rejected the app's OAuth2 client ID or secret: ask a system admin to check {configure}.",
    "provider.unavailable": "{provider} could not be reached to {operation}; please try again in a minute.",
    "provider.unauthorized": "{provider} did not accept your access token: run {connect} again.",
    "provider.insufficient_scope": "Your {provider} connection lacks the permission to {operation}: run {connect} again and tick every box on {provider}'s consent screen.",
    "provider.api_disabled": "The {provider} API the app needs to {operation} is not enabled for its OAuth2 client: ask a system admin to enable it in the console where the client was created (connecting again does not help).",
    "provider.forbidden": "{provider} refused to {operation} ({detail}).",
    "provider.other": "{provider} gave an answer the app could not use while trying to {operation}; please try again.",
    "provider_operation.exchange_code": "exchange the authorization code",
    "provider_operation.refresh": "refresh the access token",
    "provider_operation.read_token": "read the token answer",
    "provider_operation.read_identity": "read your profile",
    "provider_operation.list_events": "list your events",
    "provider_operation.list_calendars": "list your calendars",
    "provider_operation.other": "do that",  # an API call with no phrase of its own
    # -- the user's token (user_tokens.TokenUnavailable) --------------------------------------------
    "not_connected": "Your {provider} account is not connected: run {connect} first.",
    "unreadable": "Your stored {provider} connection can no longer be read (the app's keys changed): run {connect} again.",
    "no_refresh_token": "Your {provider} access has expired and the app holds no refresh token: run {connect} again.",
    "grant_ended": "{provider} no longer accepts your connection (it was revoked or has expired): run {connect} again.",
    "not_configured": "The {provider} OAuth2 client is not configured yet: ask a system admin to run {configure}.",
    # -- granted scopes (a user may untick some on the consent screen) ------------------------------------
    "scope.missing": "{command} needs the permission to {permission}, which your {provider} connection does not include: run {connect} again and tick that box on {provider}'s consent screen.",
    "scope.missing_dm": "\n\nYou did not allow the app to {permission}, so {commands} cannot work yet. To allow it, run `{connect}` again and tick that box on {provider}'s consent screen.",
    # What a command's scopes allow, by command label (`permission.<label>`; without one, the scopes themselves).
    "permission.events": "see your calendar events",
    "refresh_busy": "Your {provider} access is being renewed by another request right now; please try again in a moment.",
    "refresh_unavailable": "The app cannot renew your {provider} access right now (its lock service is unreachable); please try again in a minute.",
    # -- install --------------------------------------------------------------------------------------
    "install.next_steps": "Next: run `{configure}` to register your {provider} OAuth2 client; then each user runs `{connect}`.",
    # The home page (templates/home.html), around the install command; plain text, escaped there.
    "home.install": "To install it, a Mattermost system admin runs:",
    "home.secret": "and pastes the app's JWT secret (the APP_SECRET setting, or the file the app named in its log on first start) into the install dialog's \"Outgoing JWT Secret\" field. Then {configure}.",
    # -- configure --------------------------------------------------------------------------------------
    "configure.admin_only": "Only a Mattermost system admin can configure the {provider} OAuth2 client.",
    "configure.title": "Configure {provider} OAuth2",
    "configure.header": "Create an OAuth client ID of type *Web application* at {console_url}",
    "configure.header_redirect": " and add this **Authorized redirect URI**, exactly: `{complete_url}`",
    "configure.client_id_label": "Client ID",
    "configure.client_id_description": "The client ID {provider} gave the app.",
    "configure.client_secret_label": "Client secret",
    "configure.client_secret_description": "The client secret {provider} shows next to the client ID.",
    "configure.client_secret_keep": "Leave empty to keep the current secret (ending in {masked}).",
    "configure.client_id_required": "The client ID is required.",
    "configure.client_id_invalid": "The client ID must be one word of at most {limit} characters.",
    "configure.not_ascii": "The client ID and secret must be ASCII: copy them again from {console_url}.",
    "configure.client_secret_too_long": "The client secret must be at most {limit} characters.",
    "configure.client_secret_required": "The client secret is required: none is stored yet.",
    "configure.saved": "Saved the {provider} OAuth2 client `{client_id}` (secret ending in `{masked}`).",
    "configure.saved_redirect": "\nAt {console_url}, its authorized redirect URI must be exactly `{complete_url}`.",
    # -- the remote OAuth2 flow ---------------------------------------------------------------------------
    "oauth2.no_complete_url": "The call has no context.oauth2.complete_url (expand oauth2_app: all), so no redirect URI is known.",
    "oauth2.no_state": "The call has no OAuth2 state from Mattermost; start again with {connect}.",
    "oauth2.no_session": "This browser is not signed in to Mattermost: open the connect link in the browser where you use Mattermost (not from the mobile app), and sign in there first.",
    "oauth2.state_not_yours": "This sign-in was started by another Mattermost user, so it cannot connect your account: run {connect} yourself.",
    "oauth2.access_denied": "You did not allow access at {provider}, so your {provider} account was not connected.",
    "oauth2.provider_refused": "{provider} refused the sign-in{code}, so your {provider} account was not connected.",
    "oauth2.no_code": "{provider} sent no authorization code, so your account was not connected: run {connect} again.",
    "oauth2.not_connected_after": "{reason} Your {provider} account was not connected.",
    "oauth2.connected_dm": "Your {provider} account **{who}** is now connected.",
    "oauth2.switched_dm": " It replaces **{previous}**, whose access the app now revokes.",
    "oauth2.try_dm": " Try `/{command} events` to see your next events, or `/{command} disconnect` to disconnect.",
    # -- the commands ---------------------------------------------------------------------------------------
    "command.description": "{provider} account and calendar",
    "binding.needs_connect": "(connect first with {connect}) {description}",
    "binding.needs_admin": "(system admins only) {description}",
    "binding.rest": "Nothing: words after the command are ignored",
    "connect.no_connect_url": "The call has no context.oauth2.connect_url (expand oauth2_app: all).",
    "connect.link": "[Connect your {provider} account]({url}).",
    "connect.already": "Your {provider} account **{who}** is already connected. [Connect again]({url}) to switch accounts or renew access.",
    "disconnect.nothing": "Your {provider} account was not connected; nothing is stored for you now.",
    "disconnect.done": "Disconnected your {provider} account **{who}**.",
    "disconnect.unreadable": "Removed your stored {provider} connection, which the app could no longer read (its keys changed), so it could not revoke the app's access at {provider}.",
    "disconnect.unconfirmed": " {provider} did not confirm the revocation.",
    "disconnect.unsupported": " {provider} offers the app no way to revoke its access.",
    "disconnect.manage": " You can remove the app at {manage_access_url}.",
    "info.connected_as": "Connected to {provider} as **{who}**{name}.",
    "info.account_id": "- {provider} account ID: `{sub}`",
    "events.none": "You have no upcoming events on your primary {provider} calendar.",
    "events.header": "Your next {count} event{plural} ({zone}):",
    "events.none_on": "You have no upcoming events on {calendar}.",
    "events.header_on": "Your next {count} event{plural} on {calendar} ({zone}):",
    "events.unknown_calendar": "You have no {provider} calendar named {calendar}.",
    "events.quote_the_name": ' A name with spaces goes in quotes: --calendar "{name}".',
    "events.ambiguous_calendar": "{count} of your {provider} calendars are named {calendar}: pick one from the list that --calendar offers (it gives each one's ID).",
    "events.all_day": "{date}, all day",
    "help.intro": "**/{command}** connects your {provider} account to Mattermost.",
    "help.line": "- `/{command} {label}`: {description}",
    "help.once_connected": "Once you have connected your {provider} account: {commands}.",
}

# The sentences shown as markdown: `ok` texts (ephemeral posts), direct messages, a form's header and field help.
# Every other sentence is shown as plain text (an `error` answer is a plain label in the web client, the plugin's
# OAuth2 error pages are text/plain, the home page escapes what it shows): no backticks, asterisks or links there.
MARKDOWN = frozenset(
    key
    for key in EN
    if (
        key.startswith(("connect.", "disconnect.", "info.", "events.", "help.", "install."))
        and key not in ("events.unknown_calendar", "events.quote_the_name", "events.ambiguous_calendar")  # error texts
    )
    or key in ("oauth2.connected_dm", "oauth2.switched_dm", "oauth2.try_dm", "scope.missing_dm")
    or key in ("configure.header", "configure.header_redirect")
    or key in ("configure.saved", "configure.saved_redirect", "configure.client_secret_keep")
    or (key.startswith("configure.") and key.endswith("_description"))
)

_DEFAULTS = {
    "provider": AppProvider.name,
    "command": AppProvider.command,
    "connect": f"/{AppProvider.command} connect",
    "configure": f"/{AppProvider.command} configure",
    "console_url": AppProvider.console_url,
}


# Catalogues by language ("fr", "pt-BR", ...); a key missing from one falls back to English.
CATALOGUES: dict[str, dict[str, str]] = {"en": EN}


def text(key: str, /, **params: Any) -> str:
    """The sentence `key` in the locale of the call being handled (English outside a call), filled with `params`."""
    call = current_call()
    locale = call.context.locale if call is not None else ""
    catalogue = CATALOGUES.get(locale) or CATALOGUES.get(locale.split("-")[0], EN)
    return catalogue.get(key, EN[key]).format_map({**_DEFAULTS, **params})


def failure(exc: Exception) -> str:
    """One sentence for an error raised by `mattermost_apps`, `provider` or `user_tokens`, from its reason."""
    if isinstance(exc, JWTRejected):
        return text(f"jwt.{exc.reason}")
    if isinstance(exc, BadCallRequest):
        expected = {"string": "a string", "object": "an object"}.get(exc.expected, exc.expected)
        field = quoted(exc.field) if exc.reason == "bad_expand_level" else exc.field
        return text(f"call.{exc.reason}", field=field, expected=expected)
    if isinstance(exc, CallTooLarge):
        return text("call.too_large", kib=exc.limit // 1024)
    if isinstance(exc, MattermostError):
        operation = text(f"mattermost_operation.{exc.operation}")
        return text(f"mattermost.{exc.reason}", operation=operation, status=exc.status, detail=exc.detail, limit=MAX_STORED_BYTES)
    if isinstance(exc, ProviderError):
        operation = text(_known("provider_operation", exc.operation))
        return text(_known("provider", exc.reason), operation=operation, detail=exc.detail)
    if isinstance(exc, TokenUnavailable):
        return text(exc.reason)
    return text("unexpected")


def permission(label: str, scopes: Sequence[str]) -> str:
    """What the command `label` needs `scopes` for, in words (the scopes themselves when the catalogue has no words)."""
    key = f"permission.{label}"
    return text(key) if key in EN else " ".join(scopes)


def _known(prefix: str, name: str) -> str:
    key = f"{prefix}.{name}"
    return key if key in EN else f"{prefix}.other"


def quoted(value: str, limit: int = 40) -> str:
    """Untrusted text quoted in a one-line sentence: repr'd (no newline, no markup surprises) and cut to `limit`."""
    return repr(value if len(value) <= limit else value[:limit] + "…")
