"""`configure` (system admins): a modal form to register the OAuth2 client, and its submit.

`POST /oauth2/app` replaces the whole record, so fields the form does not show (`remote_root_url`,
`data`) are carried over, and an empty secret keeps the stored one.
"""

from __future__ import annotations

from typing import Any

from mattermost_apps import CallRequest, CallResponse, MattermostError, error, form, ok
from services import Services

from .messages import failure, text

SUBMIT_PATH = "/configure/submit"
SUBMIT_EXPAND = {"acting_user": "summary", "acting_user_access_token": "all", "oauth2_app": "all", "locale": "all"}
MAX_CLIENT_ID_LENGTH = 512
MAX_CLIENT_SECRET_LENGTH = 512


def mask(secret: str) -> str:
    """At most the last 4 characters, so an admin can tell secrets apart without seeing one."""
    return "…" + secret[-4:] if len(secret) > 8 else "…"


def configure_form(call: CallRequest, services: Services) -> CallResponse:
    if not call.context.is_system_admin:
        return error(text("configure.admin_only"))
    return form(build_form(call, icon=services.manifest["icon"]))


def build_form(call: CallRequest, *, icon: str) -> dict[str, Any]:
    oauth2 = call.context.oauth2
    header = text("configure.header")
    if oauth2.complete_url:
        header += text("configure.header_redirect", complete_url=oauth2.complete_url)
    return {
        "title": text("configure.title"),
        "icon": icon,
        "header": header + ".",
        "submit": {"path": SUBMIT_PATH, "expand": SUBMIT_EXPAND},
        "fields": [
            {
                "name": "client_id",
                "type": "text",
                "label": "client-id",
                "modal_label": text("configure.client_id_label"),
                "value": oauth2.client_id,
                "is_required": True,
                "max_length": MAX_CLIENT_ID_LENGTH,
                "description": text("configure.client_id_description"),
            },
            {
                "name": "client_secret",
                "type": "text",
                "subtype": "password",
                "label": "client-secret",
                "modal_label": text("configure.client_secret_label"),
                "is_required": not oauth2.client_secret,
                "max_length": MAX_CLIENT_SECRET_LENGTH,
                "description": text("configure.client_secret_keep", masked=mask(oauth2.client_secret))
                if oauth2.client_secret
                else text("configure.client_secret_description"),
            },
        ],
    }


def configure_submit(call: CallRequest, services: Services) -> CallResponse:
    context = call.context
    if not context.is_system_admin:
        return error(text("configure.admin_only"))
    client_id = call.value("client_id")
    client_secret = call.value("client_secret")
    if not client_id:
        return error(text("configure.client_id_required"))
    if len(client_id) > MAX_CLIENT_ID_LENGTH or any(ch.isspace() for ch in client_id):
        return error(text("configure.client_id_invalid", limit=MAX_CLIENT_ID_LENGTH))
    if not (client_id.isascii() and client_secret.isascii()):
        return error(text("configure.not_ascii"))
    if len(client_secret) > MAX_CLIENT_SECRET_LENGTH:
        return error(text("configure.client_secret_too_long", limit=MAX_CLIENT_SECRET_LENGTH))
    if not client_secret:
        client_secret = context.oauth2.client_secret
        if not client_secret:
            return error(text("configure.client_secret_required"))

    record: dict[str, Any] = {"client_id": client_id, "client_secret": client_secret}
    if context.oauth2.remote_root_url:
        record["remote_root_url"] = context.oauth2.remote_root_url
    if context.oauth2.data is not None:
        record["data"] = context.oauth2.data
    try:
        services.mattermost.as_acting_user(call).store_oauth2_app(record)
    except MattermostError as exc:
        return error(failure(exc))

    sentence = text("configure.saved", client_id=client_id, masked=mask(client_secret))
    if context.oauth2.complete_url:
        sentence += text("configure.saved_redirect", complete_url=context.oauth2.complete_url)
    return ok(sentence, refresh_bindings=True)
