"""`/google configure` (system admins): a modal form to register the Google OAuth2 client.

`POST /oauth2/app` replaces the whole record, so fields the form does not show (`remote_root_url`,
`data`) are carried over, and an empty secret keeps the stored one.
"""

from __future__ import annotations

from typing import Any

import call_paths as paths
from bindings import CONFIGURE_SUBMIT_EXPAND
from mattermost_apps import CallRequest, CallResponse, CallRouter, MattermostError, error, form, ok
from services import Services

from . import messages

MAX_CLIENT_ID_LENGTH = 512
MAX_CLIENT_SECRET_LENGTH = 512


def mask(secret: str) -> str:
    """At most the last 4 characters, so an admin can tell secrets apart without seeing one."""
    return "…" + secret[-4:] if len(secret) > 8 else "…"


def configure_form(call: CallRequest, services: Services) -> CallResponse:
    if not call.context.is_system_admin:
        return error(messages.ADMIN_ONLY)
    return form(build_form(call))


def build_form(call: CallRequest) -> dict[str, Any]:
    oauth2 = call.context.oauth2
    secret_hint = (
        f"Leave empty to keep the current secret (ending in {mask(oauth2.client_secret)})."
        if oauth2.client_secret
        else "The client secret Google shows next to the client ID."
    )
    header = "Create an OAuth client ID of type *Web application* in the Google Cloud console"
    if oauth2.complete_url:
        header += f" and add this **Authorized redirect URI**, exactly: `{oauth2.complete_url}`"
    return {
        "title": "Configure Google OAuth2",
        "icon": "icon.png",
        "header": header + ".",
        "submit": {"path": paths.CONFIGURE_SUBMIT, "expand": CONFIGURE_SUBMIT_EXPAND},
        "fields": [
            {
                "name": "client_id",
                "type": "text",
                "label": "client-id",
                "modal_label": "Client ID",
                "value": oauth2.client_id,
                "is_required": True,
                "max_length": MAX_CLIENT_ID_LENGTH,
                "description": "Ends in .apps.googleusercontent.com",
            },
            {
                "name": "client_secret",
                "type": "text",
                "subtype": "password",
                "label": "client-secret",
                "modal_label": "Client secret",
                "is_required": not oauth2.client_secret,
                "max_length": MAX_CLIENT_SECRET_LENGTH,
                "description": secret_hint,
            },
        ],
    }


def configure_submit(call: CallRequest, services: Services) -> CallResponse:
    context = call.context
    if not context.is_system_admin:
        return error(messages.ADMIN_ONLY)
    client_id = call.value("client_id")
    client_secret = call.value("client_secret")
    if not client_id:
        return error("The client ID is required.")
    if len(client_id) > MAX_CLIENT_ID_LENGTH or any(ch.isspace() for ch in client_id):
        return error(f"The client ID must be one word of at most {MAX_CLIENT_ID_LENGTH} characters.")
    if not (client_id.isascii() and client_secret.isascii()):
        return error("The client ID and secret must be ASCII: copy them again from the Google Cloud console.")
    if len(client_secret) > MAX_CLIENT_SECRET_LENGTH:
        return error(f"The client secret must be at most {MAX_CLIENT_SECRET_LENGTH} characters.")
    if not client_secret:
        client_secret = context.oauth2.client_secret
        if not client_secret:
            return error("The client secret is required: none is stored yet.")

    record: dict[str, Any] = {"client_id": client_id, "client_secret": client_secret}
    if context.oauth2.remote_root_url:
        record["remote_root_url"] = context.oauth2.remote_root_url
    if context.oauth2.data is not None:
        record["data"] = context.oauth2.data
    try:
        services.mattermost.as_acting_user(call).store_oauth2_app(record)
    except MattermostError as exc:
        return error(exc.user_message())

    text = f"Saved the Google OAuth2 client `{client_id}` (secret ending in `{mask(client_secret)}`)."
    if context.oauth2.complete_url:
        text += f"\nIn the Google Cloud console, its authorized redirect URI must be exactly `{context.oauth2.complete_url}`."
    return ok(text, refresh_bindings=True)


def register(router: CallRouter) -> None:
    router.route(paths.CONFIGURE_FORM)(configure_form)
    router.route(paths.CONFIGURE_SUBMIT)(configure_submit)
