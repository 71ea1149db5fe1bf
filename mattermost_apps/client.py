"""A REST client for what an App may ask of Mattermost: the Apps plugin's API (`/plugins/com.mattermost.apps/api/v1`)
and the two `/api/v4` calls a direct message needs.

Build one per call from the call's context: `as_acting_user(context)` or `as_bot(context)`. The tokens in a
context are sessions the plugin mints for (app, user) and lasts minutes: never keep them.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import requests

from .calls import Context

log = logging.getLogger(__name__)

APPS_API_PATH = "/plugins/com.mattermost.apps/api/v1"
MAX_STORED_BYTES = 8192  # the plugin's MaxKVStoreValueLength for KV, /oauth2/app and /oauth2/user bodies
MAX_KV_PREFIX_LENGTH = 2


class MattermostError(Exception):
    """Mattermost refused or failed a request. `status` is 0 when it could not be reached.

    Every MattermostError has been logged (one WARNING line with the reason) where it was raised: callers need not."""

    def __init__(self, operation: str, status: int, detail: str) -> None:
        self.operation = operation
        self.status = status
        self.detail = detail
        super().__init__(f"{operation}: {status or 'unreachable'} {detail}".strip())

    @property
    def is_unauthorized(self) -> bool:
        return self.status in (401, 403)

    def user_message(self) -> str:
        if self.status == 0:
            return "Mattermost could not be reached from the app; please try again in a minute."
        if self.is_unauthorized:
            return f"Mattermost refused to {self.operation} ({self.detail or self.status})."
        return f"Mattermost failed to {self.operation} (HTTP {self.status}); please try again."


class PayloadTooLarge(MattermostError):
    def __init__(self, operation: str, size: int) -> None:
        super().__init__(operation, 413, f"the payload is {size} bytes, over the {MAX_STORED_BYTES}-byte limit")

    def user_message(self) -> str:
        return f"The data to {self.operation} is too large for Mattermost ({self.detail})."


class MissingToken(MattermostError):
    def __init__(self, which: str) -> None:
        self.which = which
        super().__init__("authenticate to Mattermost", 0, f"the call carried no {which}")

    def user_message(self) -> str:
        return f"The call carried no {self.which}, so the app cannot act for you (check the call's expand)."


class AppsClient:
    def __init__(self, site_url: str, token: str, *, session: requests.Session, timeout: float) -> None:
        self.site_url = site_url.rstrip("/")
        self._token = token
        self._session = session
        self._timeout = timeout

    # -- construction -------------------------------------------------------------------------------

    @classmethod
    def as_acting_user(
        cls, context: Context, *, session: requests.Session, timeout: float, site_url: str | None = None
    ) -> AppsClient:
        if not context.acting_user_access_token:
            log.warning("no acting_user_access_token in the call: check the call's expand")
            raise MissingToken("acting_user_access_token")
        return cls(site_url or context.mattermost_site_url, context.acting_user_access_token, session=session, timeout=timeout)

    @classmethod
    def as_bot(cls, context: Context, *, session: requests.Session, timeout: float, site_url: str | None = None) -> AppsClient:
        if not context.bot_access_token:
            log.warning("no bot_access_token in the call: the app needs the act_as_bot permission")
            raise MissingToken("bot_access_token")
        return cls(site_url or context.mattermost_site_url, context.bot_access_token, session=session, timeout=timeout)

    # -- Apps plugin: OAuth2 -------------------------------------------------------------------------

    def store_oauth2_app(self, oauth2_app: dict[str, Any]) -> None:
        """Replace the app's whole remote OAuth2 record (`client_id`, `client_secret`, `remote_root_url`, `data`).

        Mattermost allows it only with a system admin's acting-user token.
        """
        self._request("store the OAuth2 client", "POST", APPS_API_PATH + "/oauth2/app", body=oauth2_app)

    def store_oauth2_user(self, record: Any) -> None:
        """Store the acting user's record for this app; `None` stores JSON `null` (disconnected)."""
        self._request("store your connection", "POST", APPS_API_PATH + "/oauth2/user", body=record)

    def get_oauth2_user(self) -> Any:
        """The acting user's stored record, or None when nothing (or `null`) was ever stored."""
        response = self._request("read your connection", "GET", APPS_API_PATH + "/oauth2/user")
        return _json_or_none(response, "read your connection")

    # -- Apps plugin: KV (namespaced per app and per token owner) ------------------------------------

    def kv_get(self, prefix: str, key: str) -> Any:
        """The stored value, or None when the key is missing (the plugin answers `{}`)."""
        response = self._request("read from the KV store", "GET", _kv_path(prefix, key))
        value = _json_or_none(response, "read from the KV store")
        return None if value == {} else value

    def kv_set(self, prefix: str, key: str, value: Any) -> bool:
        response = self._request("write to the KV store", "POST", _kv_path(prefix, key), body=value)
        result = _json_or_none(response, "write to the KV store")
        return bool(isinstance(result, dict) and result.get("changed"))

    def kv_delete(self, prefix: str, key: str) -> None:
        self._request("delete from the KV store", "DELETE", _kv_path(prefix, key))

    # -- Mattermost REST v4 --------------------------------------------------------------------------

    def send_direct_message(self, bot_user_id: str, user_id: str, message: str) -> str:
        """Post `message` in the DM channel between the token's owner (the bot) and `user_id`; returns the post id."""
        channel = _json_or_none(
            self._request("open a direct message channel", "POST", "/api/v4/channels/direct", body=[bot_user_id, user_id]),
            "open a direct message channel",
        )
        if not isinstance(channel, dict) or not isinstance(channel.get("id"), str):
            raise MattermostError("open a direct message channel", 200, "the answer has no channel id")
        post = _json_or_none(
            self._request(
                "post a direct message", "POST", "/api/v4/posts", body={"channel_id": channel["id"], "message": message}
            ),
            "post a direct message",
        )
        return post.get("id", "") if isinstance(post, dict) else ""

    # -- transport -----------------------------------------------------------------------------------

    def _request(self, operation: str, method: str, path: str, *, body: Any = None) -> requests.Response:
        data: bytes | None = None
        headers = {"Authorization": f"Bearer {self._token}"}
        if method in ("POST", "PUT"):
            data = json.dumps(body, separators=(",", ":")).encode()
            if path.startswith(APPS_API_PATH) and len(data) > MAX_STORED_BYTES:
                log.warning(
                    "Mattermost %s %s not sent: %d bytes, over the %d-byte limit", method, path, len(data), MAX_STORED_BYTES
                )
                raise PayloadTooLarge(operation, len(data))
            headers["Content-Type"] = "application/json"
        try:
            response = self._session.request(method, self.site_url + path, data=data, headers=headers, timeout=self._timeout)
        except (requests.RequestException, UnicodeError) as exc:  # UnicodeError: a token headers cannot carry
            log.warning("Mattermost %s %s failed: %s", method, path, type(exc).__name__)
            raise MattermostError(operation, 0, type(exc).__name__) from None
        if response.status_code >= 300:
            detail = " ".join(response.text.split())[:200]
            log.warning("Mattermost %s %s answered %s: %s", method, path, response.status_code, detail)
            raise MattermostError(operation, response.status_code, detail)
        return response


def _kv_path(prefix: str, key: str) -> str:
    if len(prefix) > MAX_KV_PREFIX_LENGTH or not prefix.isascii():
        raise ValueError(f"KV prefix {prefix!r} is longer than {MAX_KV_PREFIX_LENGTH} ASCII characters.")
    if not key or "/" in key:
        raise ValueError("A KV key must be non-empty and contain no '/'.")
    return f"{APPS_API_PATH}/kv/{prefix}/{key}" if prefix else f"{APPS_API_PATH}/kv/{key}"


def _json_or_none(response: requests.Response, operation: str) -> Any:
    if not response.content.strip():
        return None
    try:
        return response.json()
    except ValueError:
        raise MattermostError(operation, response.status_code, "the answer is not JSON") from None
