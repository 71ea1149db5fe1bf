"""A REST client for what an App may ask of Mattermost: the Apps plugin's API (`/plugins/com.mattermost.apps/api/v1`)
and the two `/api/v4` calls a direct message needs.

`ClientFactory` builds one client per call, from that call's context: `as_acting_user(call)` or `as_bot(call)`. The
tokens in a context are sessions the plugin mints for (app, user) and lasts minutes: never keep them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

import requests
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from .calls import CallRequest

log = logging.getLogger(__name__)

APPS_API_PATH = "/plugins/com.mattermost.apps/api/v1"
MAX_STORED_BYTES = 8192  # the plugin's MaxKVStoreValueLength for KV, /oauth2/app and /oauth2/user bodies
MAX_KV_PREFIX_LENGTH = 2
# The sentinels the plugin ends its plain-text error bodies with (`utils/errors.go`).
_SENTINELS = ("unauthorized", "forbidden", "invalid input", "not found")


class MattermostError(Exception):
    """Mattermost refused or failed a request, or the call gives the app no way to ask.

    `reason`: `unreachable` (no answer: connection error or timeout), `refused` (401 or 403), `failed` (another
    status), `bad_answer` (an answer the app cannot read), `too_large` (over the plugin's 8 KiB limit: not sent),
    `missing_token` (the call's context carries no `detail` token), `bad_site_url` (the call's site URL is no URL
    the app can use), `untrusted_site_url` (it names another Mattermost than the one trusted), `not_pinned` (no
    Mattermost is trusted yet: the app was never installed from one). `operation` names what was asked:
    `store_oauth2_app`, `store_oauth2_user`, `get_oauth2_user`, `kv_get`, `kv_set`, `kv_delete`, `open_dm`, `post_dm`.
    `detail` is the app's own (a byte count, a token name, the plugin's error sentinel), never Mattermost's text.
    Every MattermostError has been logged, one WARNING line, where it was raised.
    """

    def __init__(self, reason: str, operation: str, *, status: int = 0, detail: str = "") -> None:
        self.reason = reason
        self.operation = operation
        self.status = status
        self.detail = detail
        super().__init__(f"{operation}: {reason}" + (f" (HTTP {status})" if status else "") + (f" {detail}" if detail else ""))


class ClientFactory:
    """Builds the `AppsClient` of a call, with the call's own token, aimed at one Mattermost only.

    The plugin's JWT covers no part of the body, so the body's `context.mattermost_site_url` is the caller's word.
    With `site_url` set, every request goes there and the context's is ignored. Without it, the Mattermost is the
    one `pin(call)` names: the app's install call, made by the admin installing it. With `pin_file` the pin is kept
    there, for every worker and every restart, and only an install can set it (delete the file to reset it); without
    (tests, an embedded app), it is kept in memory, set by the install or else by the first call that needs
    Mattermost. A call naming another Mattermost is refused: a caller holding one valid JWT cannot aim the app's
    requests (and the tokens and records they carry) at a host of their choice.
    """

    def __init__(
        self, session: requests.Session, timeout: float, site_url: str | None = None, *, pin_file: Path | None = None
    ) -> None:
        self.session = session
        self.timeout = timeout
        self.site_url = site_url.rstrip("/") if site_url else None
        self.pin_file = pin_file
        self._trusted = self.site_url
        self._guard = threading.Lock()

    def pin(self, call: CallRequest) -> None:
        """Trust the Mattermost the install call names, if none is trusted yet; refuse a call naming another."""
        site_url = _checked(call.context.mattermost_site_url)
        if self.site_url is None:
            with self._guard:
                if self._pinned() is None:
                    self._keep(site_url, "pinned by the app's install")
        self._trust(site_url)

    def as_acting_user(self, call: CallRequest) -> AppsClient:
        return self._client(call, call.context.acting_user_access_token, "acting_user_access_token")

    def as_bot(self, call: CallRequest) -> AppsClient:
        return self._client(call, call.context.bot_access_token, "bot_access_token")

    def _client(self, call: CallRequest, token: str, which: str) -> AppsClient:
        if not token:
            log.warning("no %s in the call: check the call's expand and the app's permissions", which)
            raise MattermostError("missing_token", "authenticate", detail=which)
        return AppsClient(
            self.site_url or self._trust(call.context.mattermost_site_url), token, session=self.session, timeout=self.timeout
        )

    def _trust(self, site_url: str) -> str:
        site_url = _checked(site_url)
        trusted = self._trusted or self._pinned()
        if trusted is None:
            if self.pin_file is not None:
                log.warning("refused a call: no Mattermost is trusted yet (install the app, or set MATTERMOST_SITE_URL)")
                raise MattermostError("not_pinned", "authenticate")
            with self._guard:
                if self._trusted is None:
                    self._keep(site_url, "the first call that needs Mattermost")
            trusted = self._trusted
        if site_url != trusted:
            log.warning("refused a call naming another Mattermost site URL than the trusted %s", trusted)
            raise MattermostError("untrusted_site_url", "authenticate")
        return site_url

    def _pinned(self) -> str | None:
        """The trusted site URL: in memory, else in the pin file (another worker, or an earlier start, may have set it)."""
        if self._trusted is None and self.pin_file is not None:
            try:
                kept = self.pin_file.read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                return None
            if not _usable_site_url(kept):
                raise MattermostError("bad_site_url", "authenticate", detail=str(self.pin_file))
            self._trusted = kept
        return self._trusted

    def _keep(self, site_url: str, why: str) -> None:
        if self.pin_file is not None:
            # Written whole to a private file, then linked into place, which fails if another worker got there first.
            self.pin_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.pin_file.with_name(f".{self.pin_file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(site_url + "\n", encoding="utf-8")
            try:
                os.link(tmp, self.pin_file)
            except FileExistsError:
                self._pinned()
                return
            finally:
                tmp.unlink(missing_ok=True)
            log.warning(
                "trusting the Mattermost at %s from now on (%s; kept in %s: delete it to reset)", site_url, why, self.pin_file
            )
        else:
            log.info("trusting the Mattermost at %s for the app's requests (%s; MATTERMOST_SITE_URL is not set)", site_url, why)
        self._trusted = site_url


# http(s)://host[:port][/path], nothing else: no user info, query, fragment, space or control character.
_PLAIN_URL = re.compile(
    r"https?://(?P<host>[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?(?:/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?"
)
_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")  # `_`: container names


def _checked(site_url: str) -> str:
    site_url = site_url.rstrip("/")
    if not _usable_site_url(site_url):
        log.warning("refused a call whose context.mattermost_site_url is not a plain http(s)://host[:port][/path] URL")
        raise MattermostError("bad_site_url", "authenticate")
    return site_url


def _usable_site_url(url: str) -> bool:
    """A plain http(s)://host[:port][/path] URL, with a host DNS could carry (letter-digit-hyphen labels of 1 to 63
    characters; an `xn--` label must be valid punycode) or an IPv6 literal."""
    match = _PLAIN_URL.fullmatch(url)
    if match is None or (match["port"] is not None and not 0 < int(match["port"]) <= 65535):
        return False
    host = match["host"]
    if host.startswith("["):
        try:
            parse_url(url)  # checks the IPv6 literal
        except LocationParseError:
            return False
        return True
    labels = host.rstrip(".").split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return False
    try:
        host.encode("ascii").decode("idna")  # an xn-- label that is not punycode
    except UnicodeError:
        return False
    return True


class AppsClient:
    def __init__(self, site_url: str, token: str, *, session: requests.Session, timeout: float) -> None:
        self.site_url = site_url.rstrip("/")
        self._token = token
        self._session = session
        self._timeout = timeout

    # -- Apps plugin: OAuth2 -------------------------------------------------------------------------

    def store_oauth2_app(self, oauth2_app: dict[str, Any]) -> None:
        """Replace the app's whole remote OAuth2 record (`client_id`, `client_secret`, `remote_root_url`, `data`).

        Mattermost allows it only with a system admin's acting-user token.
        """
        self._request("store_oauth2_app", "POST", APPS_API_PATH + "/oauth2/app", body=oauth2_app)

    def store_oauth2_user(self, record: Any) -> None:
        """Store the acting user's record for this app; `None` stores JSON `null` (disconnected)."""
        self._request("store_oauth2_user", "POST", APPS_API_PATH + "/oauth2/user", body=record)

    def get_oauth2_user(self) -> Any:
        """The acting user's stored record, or None when nothing (or `null`) was ever stored."""
        return _json_or_none(self._request("get_oauth2_user", "GET", APPS_API_PATH + "/oauth2/user"), "get_oauth2_user")

    # -- Apps plugin: KV (namespaced per app and per token owner) ------------------------------------

    def kv_get(self, prefix: str, key: str) -> Any:
        """The stored value, or None when the key is missing (the plugin answers `{}`)."""
        value = _json_or_none(self._request("kv_get", "GET", _kv_path(prefix, key)), "kv_get")
        return None if value == {} else value

    def kv_set(self, prefix: str, key: str, value: Any) -> bool:
        result = _json_or_none(self._request("kv_set", "POST", _kv_path(prefix, key), body=value), "kv_set")
        return bool(isinstance(result, dict) and result.get("changed"))

    def kv_delete(self, prefix: str, key: str) -> None:
        self._request("kv_delete", "DELETE", _kv_path(prefix, key))

    # -- Mattermost REST v4 --------------------------------------------------------------------------

    def send_direct_message(self, bot_user_id: str, user_id: str, message: str) -> str:
        """Post `message` in the DM channel between the token's owner (the bot) and `user_id`; returns the post id."""
        channel = _json_or_none(
            self._request("open_dm", "POST", "/api/v4/channels/direct", body=[bot_user_id, user_id]), "open_dm"
        )
        if not isinstance(channel, dict) or not isinstance(channel.get("id"), str):
            log.warning("Mattermost POST /api/v4/channels/direct answered with no channel id")
            raise MattermostError("bad_answer", "open_dm", status=200)
        body = {"channel_id": channel["id"], "message": message}
        post = _json_or_none(self._request("post_dm", "POST", "/api/v4/posts", body=body), "post_dm")
        return post.get("id", "") if isinstance(post, dict) else ""

    # -- internals ----------------------------------------------------------------------------------

    def _request(self, operation: str, method: str, path: str, *, body: Any = None) -> requests.Response:
        data: bytes | None = None
        headers = {"Authorization": f"Bearer {self._token}"}
        if method in ("POST", "PUT"):
            data = json.dumps(body, separators=(",", ":")).encode()
            if path.startswith(APPS_API_PATH) and len(data) > MAX_STORED_BYTES:
                log.warning(
                    "Mattermost %s %s not sent: %d bytes, over the %d-byte limit", method, path, len(data), MAX_STORED_BYTES
                )
                raise MattermostError("too_large", operation, detail=f"{len(data)} bytes")
            headers["Content-Type"] = "application/json"
        try:
            response = self._session.request(method, self.site_url + path, data=data, headers=headers, timeout=self._timeout)
        except (requests.RequestException, UnicodeError, LocationParseError) as exc:  # a token headers cannot carry, a bad host
            log.warning("Mattermost %s %s failed: %s", method, path, type(exc).__name__)
            raise MattermostError("unreachable", operation, detail=type(exc).__name__) from None
        if response.status_code >= 300:
            sentinel = _sentinel(response.text)
            log.warning(
                "Mattermost %s %s answered %s%s", method, path, response.status_code, f" ({sentinel})" if sentinel else ""
            )
            reason = "refused" if response.status_code in (401, 403) else "failed"
            raise MattermostError(reason, operation, status=response.status_code, detail=sentinel)
        return response


def _sentinel(text: str) -> str:
    """The plugin's error sentinel at the end of its answer ("...: unauthorized"), the only part of it kept."""
    tail = text.strip().rsplit(": ", 1)[-1]
    return tail if tail in _SENTINELS else ""


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
        log.warning("Mattermost answered %s with something that is not JSON", operation)
        raise MattermostError("bad_answer", operation, status=response.status_code) from None
