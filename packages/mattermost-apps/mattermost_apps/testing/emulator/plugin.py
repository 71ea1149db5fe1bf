"""The Apps plugin's behaviour at v1.2.2: install, calls to the app, bindings, remote OAuth2.

Sources (mattermost/mattermost-plugin-apps at v1.2.2): `server/proxy/install.go`, `server/proxy/invoke_call.go`,
`server/proxy/invoke_bindings.go`, `server/proxy/bindings.go`, `server/proxy/invoke_oauth2.go`,
`server/proxy/expand.go`, `upstream/uphttp/upstream.go`, `upstream/wrappers.go`, `server/httpin/call.go`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from mattermost_apps.testing import (
    DEFAULT_COMPLETE_EXPAND,
    DEFAULT_CONNECT_EXPAND,
    PLUGIN_PATH,
    ExpandError,
    ExpandGetter,
    User,
    build_call_request,
    call_headers,
    ping_request,
)

from . import golang, manifest_rules
from .cleanup import DecodeError, clean_bindings, clean_form_struct, decode_call, decode_form, encode_call, encode_form
from .store import AppRecord, Store, new_id

CALL_TIMEOUT = 30.0
PING_TIMEOUT = 2.0
DEFAULT_BINDINGS_PATH = "/bindings"
DEFAULT_CONNECT_PATH = "/oauth2/connect"
DEFAULT_COMPLETE_PATH = "/oauth2/complete"
DEFAULT_WEBHOOK_PATH = "/webhook"
REFRESH_BINDINGS = "refresh_bindings"
# (manifest field, default path or None), in the order `checkForForbiddenPath` checks them
FORBIDDEN_CALLS = (
    ("on_install", None),
    ("on_uninstall", None),
    ("on_version_changed", None),
    ("on_enable", None),
    ("on_disable", None),
    ("get_oauth2_connect_url", DEFAULT_CONNECT_PATH),
    ("on_oauth2_complete", DEFAULT_COMPLETE_PATH),
    ("on_remote_webhook", DEFAULT_WEBHOOK_PATH),
)

SUCCESS_PAGE = """
\t<!DOCTYPE html>
\t<html>
\t\t<head>
\t\t\t<script>
\t\t\t\twindow.close();
\t\t\t</script>
\t\t</head>
\t\t<body>
\t\t\t<p>Completed connecting your account. Please close this window.</p>
\t\t</body>
\t</html>
\t"""


class CallFailed(Exception):
    """The call could not be made or the app did not answer 200 with a CallResponse; str() is the plugin's text."""


class InstallFailed(Exception):
    pass


@dataclass
class HTTPError(Exception):
    """An error the plugin writes with http.Error: plain text `<message>: <sentinel>` and a status."""

    status: int
    text: str


def unauthorized(message: str) -> HTTPError:
    return HTTPError(401, f"{message}: unauthorized")


def forbidden(message: str = "") -> HTTPError:
    return HTTPError(403, f"{message}: forbidden" if message else "forbidden")


def not_installed(app_id: str) -> HTTPError:
    return HTTPError(404, f"app {app_id} is not installed: not found")


def clean_url(url: str) -> str:
    """`utils.CleanURL`: the path `path.Clean`ed (doubled slashes collapse, no trailing slash)."""
    parts = urlsplit(url)
    path = golang.clean_path(parts.path) if parts.path else ""
    return urlunsplit((parts.scheme, parts.netloc, "" if path in ("/", ".") else path, parts.query, parts.fragment))


def with_default(call: Any, default_path: str, default_expand: dict[str, str] | None) -> dict[str, Any]:
    """`Call.WithDefault`: an empty path takes the default; a nil expand takes the whole default expand."""
    decoded = decode_call(call) or {"path": "", "expand": None, "state": None}
    result = encode_call(decoded)
    result["path"] = decoded["path"] or default_path
    if decoded["expand"] is None and default_expand is not None:
        result["expand"] = dict(default_expand)
    return result


def go_type_name(value: Any) -> str:
    """What Go's `%T` prints for a decoded JSON value."""
    if value is None:
        return "<nil>"
    return {bool: "bool", int: "float64", float: "float64", dict: "map[string]interface {}", list: "[]interface {}"}.get(
        type(value), type(value).__name__
    )


def decode_call_response(body: bytes) -> dict[str, Any]:
    """`json.NewDecoder(...).Decode(&apps.CallResponse{})`, re-encoded: unknown keys vanish, zero values too."""
    problem = golang.json_syntax_error(body)
    if problem == "unexpected end of JSON input":
        raise ValueError("EOF" if not body.strip() else "unexpected EOF")
    if problem is not None and not problem.endswith("after top-level value"):
        raise ValueError(problem)  # a decoder reads one value: what follows it is never looked at
    value, _ = json.JSONDecoder().raw_decode(body.decode().strip())
    if not isinstance(value, dict):
        raise ValueError(f"json: cannot unmarshal {golang.go_json_type(value)} into Go value of type apps.CallResponse")
    out: dict[str, Any] = {}
    for key, kind in (("type", str), ("text", str), ("refresh_bindings", bool)):
        raw = value.get(key)
        if raw is not None and not isinstance(raw, kind):
            go_kind = {"type": "apps.CallResponseType", "text": "string", "refresh_bindings": "bool"}[key]
            raise ValueError(
                f"json: cannot unmarshal {golang.go_json_type(raw)} into Go struct field CallResponse.{key} of type {go_kind}"
            )
    out["type"] = value.get("type") or ""
    for key in ("text", "refresh_bindings", "data", "navigate_to_url", "use_external_browser"):
        if value.get(key) not in (None, "", False):
            out[key] = value[key]
    try:
        if (call := decode_call(value.get("call"))) is not None:
            out["call"] = encode_call(call)
        if (form := decode_form(value.get("form"))) is not None:
            out["form"] = form  # a Go struct still: the plugin cleans it before encoding
    except DecodeError as exc:
        raise ValueError(str(exc)) from None
    return out


class Plugin:
    def __init__(self, store: Store, site_url: str, *, developer_mode: bool = False) -> None:
        self.store = store
        self.site_url = site_url.rstrip("/")
        self.plugin_url = self.site_url + PLUGIN_PATH
        self.developer_mode = developer_mode
        self.http = requests.Session()

    # -- install: server/proxy/install.go, server/builtin/install.go -------------------------------------------

    def install(self, manifest_url: str, secret: str, admin: User) -> str:
        manifest = self._fetch_manifest(manifest_url)
        if not isinstance(manifest.get("http"), dict):
            raise InstallFailed("the emulator installs only apps with an http deploy section")
        with self.store.lock:
            previous = self.store.app
        same_app = previous is not None and previous.app_id == manifest["app_id"]
        record = AppRecord(
            manifest=manifest,
            secret=secret or (previous.secret if same_app and previous else ""),
            bot=self._bot_for(manifest["app_id"]),
            webhook_secret=new_id(),
            remote_oauth2=dict(previous.remote_oauth2) if same_app and previous else {},
        )
        self._ping(record)
        icon = manifest.get("icon")
        if icon:
            self._fetch_icon(record, icon)
        with self.store.lock:
            self.store.users[record.bot.id] = record.bot
            self.store.app = record

        message = f"Installed app `{record.app_id}`: {record.display_name}."
        if manifest.get("on_install"):
            response = self._internal_call(with_default(manifest["on_install"], "", None), admin)
            if response["type"] == "error":
                message += f", despite on_install failure: {response.get('text', '')}"
            elif response.get("text"):
                message += "\n\n" + response["text"]
        elif record.locations:
            response = self._internal_call(with_default(manifest.get("bindings"), DEFAULT_BINDINGS_PATH, None), admin)
            if response["type"] == "error":
                message += f", despite bindings failure: {response.get('text', '')}"
        self.store.publish(REFRESH_BINDINGS, admin.id)
        return message

    def _fetch_manifest(self, url: str) -> dict[str, Any]:
        try:
            response = self.http.get(url, timeout=CALL_TIMEOUT, stream=True)
            body = response.raw.read(manifest_rules.MAX_MANIFEST_SIZE + 1, decode_content=True)
        except requests.RequestException as exc:
            raise InstallFailed(f"failed to fetch the manifest from {url}: {exc}") from None
        if response.status_code >= 400:
            raise InstallFailed(f"failed to fetch the manifest from {url}: HTTP {response.status_code}")
        if len(body) > manifest_rules.MAX_MANIFEST_SIZE:
            raise InstallFailed(f"the manifest at {url} is larger than 1 MiB")
        try:
            return manifest_rules.decode_manifest(body)
        except ValueError as exc:
            raise InstallFailed(str(exc)) from None

    def _bot_for(self, app_id: str) -> User:
        username = app_id.lower()
        with self.store.lock:
            owner = self.store.user_by_name(username)
            if owner is not None and not owner.is_bot:
                username += "-app"
                owner = self.store.user_by_name(username)
            if owner is not None and owner.is_bot:
                return owner
        return User(id=new_id(), username=username, roles="system_user", is_bot=True)

    def _ping(self, record: AppRecord) -> None:
        """`pingApp`: no expand; a 404 counts as success; anything else that is not a CallResponse fails the install."""
        request = ping_request()
        installed = record.installed(self.site_url, "")
        failed = "failed to install, /ping path is not accessible: failed to call /ping endpoint: "
        try:
            body = self._post(record, "/ping", request, call_headers(installed, request), PING_TIMEOUT)
        except CallFailed as exc:
            raise InstallFailed(failed + str(exc)) from None
        except _NotFound:
            return
        try:
            answer = decode_call_response(body)
        except ValueError as exc:
            self.store.log_app_call("/ping", 200, None)
            raise InstallFailed(failed + str(exc)) from None
        self.store.log_app_call("/ping", 200, answer["type"] or "ok")

    def _fetch_icon(self, record: AppRecord, icon: str) -> None:
        url = clean_url(record.root_url + "/static/" + icon)
        try:
            response = self.http.get(url, timeout=CALL_TIMEOUT)
        except requests.RequestException as exc:
            raise InstallFailed(f"failed to get bot icon: failed to download icon: {icon}: {exc}") from None
        if response.status_code != 200:
            raise InstallFailed(
                f"failed to get bot icon: failed to download icon: {icon}: received status code {response.status_code}"
            )

    # -- calls to the app: invoke_call.go, expand.go, upstream ----------------------------------------------------

    def app(self) -> AppRecord:
        with self.store.lock:
            if self.store.app is None:
                raise CallFailed("no app is installed")
            return self.store.app

    def _post(self, record: AppRecord, path: str, request: dict[str, Any], headers: dict[str, str], timeout: float) -> bytes:
        """`Upstream.invoke`: the body of a 200; CallFailed with the plugin's text otherwise, _NotFound for 404."""
        url = clean_url(record.root_url + "/" + path)
        try:
            response = self.http.post(url, data=json.dumps(request), headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            self.store.log_app_call(path, 0, None)
            raise CallFailed(f"failed to invoke via HTTP: Post {golang.quote(url)}: {type(exc).__name__}") from None
        if response.status_code == 404:
            self.store.log_app_call(path, 404, None)
            raise _NotFound(f"failed to invoke via HTTP: {url}: not found")
        if response.status_code != 200:
            self.store.log_app_call(path, response.status_code, None)
            raise CallFailed("failed to invoke via HTTP: " + response.text)
        return response.content

    def call_app(
        self,
        call: dict[str, Any],
        *,
        acting_user: User | None,
        values: dict[str, Any] | None = None,
        raw_command: str | None = None,
        user_agent: dict[str, Any] | None = None,
        selected_field: str | None = None,
        query: str | None = None,
    ) -> dict[str, Any]:
        """`callAppImpl`: expand, POST, decode; the CallResponse (empty type read as `ok`, a form still a Go struct).

        CallFailed carries the text the plugin puts in the error response."""
        record = self.app()
        bot_token = self.store.create_session(record.bot.id, record.app_id) if "act_as_bot" in record.permissions else ""
        user_token = ""
        if acting_user is not None and "act_as_user" in record.permissions:
            user_token = self.store.create_session(acting_user.id, record.app_id)
        with self.store.lock:
            stored = self.store.oauth2_users.get((record.app_id, acting_user.id)) if acting_user else None
            users = dict(self.store.users)
        installed = record.installed(self.site_url, bot_token)
        try:
            request = build_call_request(
                installed,
                {"path": call["path"], "expand": call.get("expand"), "state": call.get("state")},
                acting_user=acting_user,
                acting_user_access_token=user_token,
                stored_oauth2_user=stored,
                values=values,
                raw_command=raw_command,
                developer_mode=self.developer_mode,
                user_agent=user_agent,
                getter=ExpandGetter(users),
                selected_field=selected_field,
                query=query,
            )
        except ExpandError as exc:
            raise CallFailed(f"failed to expand context: {exc}") from None

        path = call["path"]
        try:
            body = self._post(record, path, request, call_headers(installed, request), CALL_TIMEOUT)
        except (CallFailed, _NotFound) as exc:
            raise CallFailed(f"upstream call failed: {exc}") from None
        try:
            answer = decode_call_response(body)
        except ValueError as exc:
            self.store.log_app_call(path, 200, None)
            raise CallFailed(f"upstream call failed: {exc}") from None
        answer["type"] = answer["type"] or "ok"
        self.store.log_app_call(path, 200, answer["type"])
        bindings_path = with_default(record.manifest.get("bindings"), DEFAULT_BINDINGS_PATH, None)["path"]
        if answer["type"] != "error" and path != bindings_path and answer.get("refresh_bindings") and acting_user is not None:
            self.store.publish(REFRESH_BINDINGS, acting_user.id)
        return answer

    def _internal_call(self, call: dict[str, Any], user: User | None, **kwargs: Any) -> dict[str, Any]:
        """`Proxy.call`: every failure is an error response; a form in the answer is cleaned and encoded."""
        try:
            response = self.call_app(call, acting_user=user, **kwargs)
        except CallFailed as exc:
            return {"type": "error", "text": str(exc)}
        if "form" in response:
            response["form"] = encode_form(clean_form_struct(response["form"], self.plugin_url, self.app().app_id, []))
        return response

    def forbidden_path(self, record: AppRecord, path: str) -> str | None:
        """`checkForForbiddenPath`: why a user agent may not call `path`, or None."""
        if path == "/ping":
            return f"path {path} defined as /ping"
        for name, default in FORBIDDEN_CALLS:
            declared = record.manifest.get(name)
            own = decode_call(declared)["path"] if declared is not None else default  # type: ignore[index]
            if own is not None and own == path:
                return f"path {path} defined as {name}.path"
        return None

    def user_agent_call(self, user: User, request: dict[str, Any]) -> dict[str, Any]:
        """`InvokeCall` for a user agent's CallRequest (`POST /api/v1/call`): every failure is a `type: error`."""
        context = request.get("context") or {}
        try:
            record = self.app()
        except CallFailed:
            return {"type": "error", "text": f"app {context.get('app_id')} is not installed: not found"}
        if context.get("app_id") != record.app_id:
            return {"type": "error", "text": f"app {context.get('app_id')} is not installed: not found"}
        path = request.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            return {"type": "error", "text": f'call path must start with a "/": {golang.quote(str(path or ""))}: invalid input'}
        path = golang.clean_path(path)
        reason = self.forbidden_path(record, path)
        if reason is not None:
            return {"type": "error", "text": f"forbidden call path: {reason}"}
        call = {"path": path, "expand": request.get("expand"), "state": request.get("state")}
        return self._internal_call(
            call,
            user,
            values=request.get("values") or None,
            raw_command=request.get("raw_command"),
            user_agent=context,
            selected_field=request.get("selected_field"),
            query=request.get("query"),
        )

    def app_metadata(self, app_id: Any) -> dict[str, str]:
        """`app_metadata` in the answer to `POST /api/v1/call` (`server/httpin/call.go`): {} when the app is unknown."""
        with self.store.lock:
            record = self.store.app
        if record is None or record.app_id != app_id:
            return {}
        return {"bot_user_id": record.bot.id, "bot_username": record.bot.username}

    def bindings_for(self, user: User, user_agent: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], list[str]]:
        """`GetBindings` for the installed app: the cleaned bindings and the problems (`?test=1` shows them)."""
        record = self.app()
        if not record.locations:
            return [], ["no location granted to bind to: forbidden"]
        call = with_default(record.manifest.get("bindings"), DEFAULT_BINDINGS_PATH, None)
        response = self._internal_call(call, user, user_agent=user_agent)
        if response["type"] == "error":
            return [], [f"received app error: {response.get('text', '')}"]
        if response["type"] != "ok":
            return [], [f"unexpected response type {golang.quote(response['type'])}"]
        return clean_bindings(
            response.get("data"),
            app_id=record.app_id,
            granted_locations=record.locations,
            plugin_url=self.plugin_url,
            user_agent=(user_agent or {}).get("user_agent", ""),
        )

    # -- remote OAuth2: server/proxy/invoke_oauth2.go, server/store/oauth2.go --------------------------------------

    def _installed(self, app_id: str) -> AppRecord:
        try:
            record = self.app()
        except CallFailed:
            raise not_installed(app_id) from None
        if record.app_id != app_id:
            raise not_installed(app_id)
        return record

    def oauth2_connect(self, app_id: str, user: User | None) -> str:
        """The provider URL to redirect to (307), or HTTPError."""
        record = self._installed(app_id)
        if "remote_oauth2" not in record.permissions:
            raise HTTPError(500, f"{app_id} is not authorized to use OAuth2")
        state = self.store.create_state(user.id if user else "")
        call = with_default(record.manifest.get("get_oauth2_connect_url"), DEFAULT_CONNECT_PATH, DEFAULT_CONNECT_EXPAND)
        response = self._oauth2_call(call, user, {"state": state})
        data = response.get("data")
        if not isinstance(data, str):
            raise HTTPError(
                500, f"oauth2: unexpected data type from the app: {go_type_name(data)}, expected string (connect URL)"
            )
        return data

    def oauth2_complete(self, app_id: str, user: User | None, values: dict[str, str]) -> None:
        record = self._installed(app_id)
        if "remote_oauth2" not in record.permissions:
            raise unauthorized(f"{app_id} is not authorized to use remote OAuth2")
        state = values.get("state", "")
        if not state:
            raise unauthorized("no state arg in the URL")
        parts = state.split(".")
        if len(parts) != 2 or parts[1] != (user.id if user else ""):
            raise forbidden()
        if not self.store.take_state(state):
            raise forbidden("state mismatch")
        call = with_default(record.manifest.get("on_oauth2_complete"), DEFAULT_COMPLETE_PATH, DEFAULT_COMPLETE_EXPAND)
        self._oauth2_call(call, user, values)

    def _oauth2_call(self, call: dict[str, Any], user: User | None, values: dict[str, Any]) -> dict[str, Any]:
        """Connect and complete accept only `ok` (or empty); anything else is a plain-text 500."""
        response = self._internal_call(call, user, values=values)
        if response["type"] == "error":
            raise HTTPError(500, str(response.get("text", "")))
        if response["type"] != "ok":
            raise HTTPError(500, f"oauth2: unexpected response type from the app: {golang.quote(response['type'])}")
        return response


class _NotFound(Exception):
    """The app answered 404: `utils.NewNotFoundError(url)`; /ping treats it as success."""
