"""The Apps plugin's behaviour: install (§10), calls to the app (§2, §6), bindings (§11), remote OAuth2 (§4)."""

from __future__ import annotations

import contextlib
import json
import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from mattermost_apps.testing import (
    DEFAULT_COMPLETE_EXPAND,
    DEFAULT_CONNECT_EXPAND,
    ExpandError,
    User,
    build_call_request,
    call_headers,
    ping_request,
)

from . import manifest_rules
from .cleanup import clean_bindings, clean_form
from .store import AppRecord, Store, new_id

CALL_TIMEOUT = 30.0
PING_TIMEOUT = 2.0
DEFAULT_CONNECT_PATH = "/oauth2/connect"
DEFAULT_COMPLETE_PATH = "/oauth2/complete"
DEFAULT_WEBHOOK_PATH = "/webhook"
LIFECYCLE_CALLS = ("on_install", "on_uninstall", "on_version_changed", "on_enable", "on_disable")

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
    """The call could not be made or the app did not answer 200 with a CallResponse; str() is the text."""


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


def clean_url(url: str) -> str:
    """`utils.CleanURL`: path.Clean the path (doubled slashes collapse), no trailing slash."""
    parts = urlsplit(url)
    path = posixpath.normpath(parts.path) if parts.path else ""
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    path = "" if path in ("/", ".") else path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def with_default(call: Any, default_path: str, default_expand: dict[str, str] | None) -> dict[str, Any]:
    """`Call.WithDefault`: an empty path takes the default; a nil expand takes the whole default expand."""
    if isinstance(call, str):
        call = {"path": call}
    call = dict(call) if isinstance(call, dict) else {}
    if not call.get("path"):
        call["path"] = default_path
    if call.get("expand") is None and default_expand is not None:
        call["expand"] = dict(default_expand)
    return call


def go_type_name(value: Any) -> str:
    if value is None:
        return "<nil>"
    return {bool: "bool", int: "float64", float: "float64", dict: "map[string]interface {}", list: "[]interface {}"}.get(
        type(value), type(value).__name__
    )


class Plugin:
    def __init__(self, store: Store, site_url: str, *, developer_mode: bool = False) -> None:
        self.store = store
        self.site_url = site_url.rstrip("/")
        self.developer_mode = developer_mode
        self.http = requests.Session()

    # -- install (§10) --------------------------------------------------------------------------------

    def install(self, manifest_url: str, secret: str, admin: User) -> str:
        manifest = self._fetch_manifest(manifest_url)
        problems = manifest_rules.validate_manifest(manifest)
        if problems:
            raise InstallFailed("invalid manifest: " + "; ".join(problems))
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

        message = f"Installed app `{record.app_id}`: {record.display_name}"
        if manifest.get("on_install"):
            try:
                response = self.call_app(with_default(manifest["on_install"], "", None), acting_user=admin)
            except CallFailed as exc:
                return f"{message}, despite on_install failure: {exc}."
            if response.get("type") == "error":
                return f"{message}, despite on_install failure: {response.get('text', '')}."
            text = response.get("text") or ""
            return f"{message}." + (f"\n\n{text}" if text else "")
        if record.locations:
            with contextlib.suppress(CallFailed):  # only a check: the plugin logs a failure
                self.bindings_for(admin)
        return f"{message}."

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
            manifest = json.loads(body)
        except ValueError as exc:
            raise InstallFailed(f"the manifest at {url} is not valid JSON: {exc}") from None
        if not isinstance(manifest, dict):
            raise InstallFailed(f"the manifest at {url} is not a JSON object")
        return manifest

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
        request = ping_request()
        installed = record.installed(self.site_url, "")
        url = clean_url(record.root_url + "/ping")
        try:
            response = self.http.post(
                url, data=json.dumps(request), headers=call_headers(installed, request), timeout=PING_TIMEOUT
            )
        except requests.RequestException as exc:
            self.store.log_app_call("/ping", 0, None)
            raise InstallFailed(f"failed to install, /ping failed: {exc}") from None
        if response.status_code == 404:
            self.store.log_app_call("/ping", 404, None)
            return
        if response.status_code != 200:
            self.store.log_app_call("/ping", response.status_code, None)
            raise InstallFailed(f"failed to install, /ping failed: {response.text}")
        try:
            answer = response.json()
        except ValueError:
            self.store.log_app_call("/ping", 200, None)
            raise InstallFailed("failed to install, /ping failed: the response is not a CallResponse JSON") from None
        self.store.log_app_call("/ping", 200, (answer.get("type") or "ok") if isinstance(answer, dict) else None)

    def _fetch_icon(self, record: AppRecord, icon: str) -> None:
        cleaned = manifest_rules.clean_static_path(icon) or icon
        url = clean_url(record.root_url + "/static/" + cleaned.removeprefix("./"))
        try:
            response = self.http.get(url, timeout=CALL_TIMEOUT)
        except requests.RequestException as exc:
            raise InstallFailed(f"failed to get bot icon: {exc}") from None
        if response.status_code != 200:
            raise InstallFailed(f"failed to get bot icon: {url}: HTTP {response.status_code}")

    # -- calls to the app (§2, §6) ----------------------------------------------------------------------

    def app(self) -> AppRecord:
        with self.store.lock:
            if self.store.app is None:
                raise CallFailed("no app is installed")
            return self.store.app

    def call_app(
        self,
        call: dict[str, Any],
        *,
        acting_user: User | None,
        values: dict[str, Any] | None = None,
        raw_command: str | None = None,
    ) -> dict[str, Any]:
        """POST the call to the app; the CallResponse with an empty type read as `ok`; CallFailed otherwise."""
        record = self.app()
        expand = call.get("expand") or {}
        bot_token = self.store.create_session(record.bot.id, record.app_id) if "act_as_bot" in record.permissions else ""
        user_token = ""
        if acting_user is not None and "act_as_user" in record.permissions and expand.get("acting_user_access_token"):
            user_token = self.store.create_session(acting_user.id, record.app_id)
        with self.store.lock:
            stored = self.store.oauth2_users.get((record.app_id, acting_user.id)) if acting_user else None
        installed = record.installed(self.site_url, bot_token)
        try:
            request = build_call_request(
                installed,
                call,
                acting_user=acting_user,
                acting_user_access_token=user_token,
                stored_oauth2_user=stored,
                values=values,
                raw_command=raw_command,
                developer_mode=self.developer_mode,
            )
        except ExpandError as exc:
            raise CallFailed(str(exc)) from None

        path = call["path"]
        url = clean_url(record.root_url + "/" + path)
        try:
            response = self.http.post(
                url, data=json.dumps(request), headers=call_headers(installed, request), timeout=CALL_TIMEOUT
            )
        except requests.RequestException as exc:
            self.store.log_app_call(path, 0, None)
            raise CallFailed(f"{url}: {type(exc).__name__}") from None
        if response.status_code == 404:
            self.store.log_app_call(path, 404, None)
            raise CallFailed(f"{url}: not found")
        if response.status_code != 200:
            self.store.log_app_call(path, response.status_code, None)
            raise CallFailed(response.text)
        try:
            answer = response.json()
        except ValueError as exc:
            self.store.log_app_call(path, 200, None)
            raise CallFailed(f"failed to decode the response from {url}: {exc}") from None
        if not isinstance(answer, dict):
            self.store.log_app_call(path, 200, None)
            raise CallFailed(f"failed to decode the response from {url}: not a CallResponse object")
        answer["type"] = answer.get("type") or "ok"
        self.store.log_app_call(path, 200, answer["type"])
        return answer

    def forbidden_paths(self, record: AppRecord) -> set[str]:
        manifest = record.manifest
        paths = {"/ping"}
        for name in LIFECYCLE_CALLS:
            if manifest.get(name):
                paths.add(with_default(manifest[name], "", None)["path"])
        paths.add(with_default(manifest.get("get_oauth2_connect_url"), DEFAULT_CONNECT_PATH, None)["path"])
        paths.add(with_default(manifest.get("on_oauth2_complete"), DEFAULT_COMPLETE_PATH, None)["path"])
        paths.add(with_default(manifest.get("on_remote_webhook"), DEFAULT_WEBHOOK_PATH, None)["path"])
        return {posixpath.normpath(p) for p in paths if p}

    def user_agent_call(self, user: User, request: dict[str, Any]) -> dict[str, Any]:
        """What `POST /api/v1/call` does with a user agent's CallRequest; every failure is a `type: error`."""
        try:
            record = self.app()
            app_id = (request.get("context") or {}).get("app_id")
            if app_id != record.app_id:
                raise CallFailed(f"app {app_id} is not installed")
            path = request.get("path")
            if not isinstance(path, str) or not path.startswith("/"):
                raise CallFailed("call path must start with a /")
            path = posixpath.normpath(path)
            if path in self.forbidden_paths(record):
                raise CallFailed(f"{path}: forbidden call path")
            call = {"path": path, "expand": request.get("expand"), "state": request.get("state")}
            response = self.call_app(
                call, acting_user=user, values=request.get("values") or None, raw_command=request.get("raw_command")
            )
        except CallFailed as exc:
            return {"type": "error", "text": str(exc)}
        if response["type"] == "form":
            form = clean_form(response.get("form"), self.site_url, record.app_id)
            if form is None:
                return {"type": "error", "text": "invalid form: a form must have submit or source"}
            response["form"] = form
        return response

    def bindings_for(self, user: User) -> list[dict[str, Any]]:
        """The cleaned bindings for this user, `[]` when the app has none or the bindings call fails."""
        record = self.app()
        if not record.locations:
            return []
        call = with_default(record.manifest.get("bindings"), "/bindings", None)
        response = self.call_app(call, acting_user=user)
        if response.get("type") != "ok":
            return []
        return clean_bindings(
            response.get("data"), app_id=record.app_id, granted_locations=record.locations, site_url=self.site_url
        )

    # -- remote OAuth2 (§4) -----------------------------------------------------------------------------

    def _installed_for_oauth2(self, app_id: str) -> AppRecord:
        try:
            record = self.app()
        except CallFailed:
            raise HTTPError(404, f"app {app_id} is not installed: not found") from None
        if record.app_id != app_id:
            raise HTTPError(404, f"app {app_id} is not installed: not found")
        if "remote_oauth2" not in record.permissions:
            raise unauthorized(f"{app_id} is not authorized to use remote OAuth2")
        return record

    def oauth2_connect(self, app_id: str, user: User | None) -> str:
        """The provider URL to redirect to (307), or HTTPError."""
        record = self._installed_for_oauth2(app_id)
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
        record = self._installed_for_oauth2(app_id)
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
        """Connect and complete accept only `ok` (or empty); anything else is a plain-text 500 (§3)."""
        try:
            response = self.call_app(call, acting_user=user, values=values)
        except CallFailed as exc:
            raise HTTPError(500, str(exc)) from None
        if response["type"] == "error":
            raise HTTPError(500, str(response.get("text", "")))
        if response["type"] != "ok":
            raise HTTPError(500, f'oauth2: unexpected response type from the app: "{response["type"]}"')
        return response
