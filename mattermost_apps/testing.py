"""Test helpers for App authors: CallRequests built and signed exactly as the Apps plugin v1.2.2 sends them.

`build_call_request` reproduces the plugin's expand and context cleanup (`server/proxy/expand.go` in
mattermost/mattermost-plugin-apps at v1.2.2), `sign_jwt` its `Mattermost-App-Authorization` token
(`upstream/uphttp/upstream.go`). Post the two to your app's test client and it sees what Mattermost sends.
Nothing here is used by the app at run time.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import jwt

PLUGIN_PATH = "/plugins/com.mattermost.apps"
EXPAND_LEVELS = ("", "id", "summary", "all")
JWT_HEADER = "Mattermost-App-Authorization"

# Default calls and their expand (`apps/manifest.go`).
DEFAULT_CONNECT_EXPAND = {"acting_user": "summary", "acting_user_access_token": "all", "oauth2_app": "all"}
DEFAULT_COMPLETE_EXPAND = {**DEFAULT_CONNECT_EXPAND, "oauth2_user": "all"}

# model.User keys that have no omitempty and so always appear in every stripped user.
_USER_ALWAYS = (
    "id",
    "delete_at",
    "username",
    "auth_service",
    "email",
    "nickname",
    "first_name",
    "last_name",
    "position",
    "roles",
    "locale",
    "timezone",
    "disable_welcome_email",
)


class ExpandError(Exception):
    """The plugin fails the whole call (e.g. an unknown level such as "none", or a required field missing)."""


@dataclass
class User:
    id: str
    username: str
    roles: str = "system_user"
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    is_bot: bool = False
    timezone: dict[str, str] = field(
        default_factory=lambda: {"automaticTimezone": "", "manualTimezone": "", "useAutomaticTimezone": "true"}
    )
    locale: str = "en"

    @property
    def is_admin(self) -> bool:
        return "system_admin" in self.roles.split()

    def model(self) -> dict[str, Any]:
        """The sanitized full user (expand level `all`)."""
        data: dict[str, Any] = {
            "id": self.id,
            "create_at": 1700000000000,
            "update_at": 1700000000000,
            "delete_at": 0,
            "username": self.username,
            "auth_data": "",
            "auth_service": "",
            "email": self.email,
            "nickname": "",
            "first_name": self.first_name,
            "last_name": self.last_name,
            "position": "",
            "roles": self.roles,
            "locale": self.locale,
            "timezone": dict(self.timezone),
            "disable_welcome_email": False,
        }
        if self.is_bot:
            data["is_bot"] = True
        return data


def strip_user(user: User, level: str) -> dict[str, Any] | None:
    """`StripUser` by level: `id` keeps the id and the always-present empty keys."""
    full = user.model()
    if level == "all":
        return full
    if level == "summary":
        keep = set(_USER_ALWAYS) | ({"is_bot", "bot_description"} & full.keys())
        return {k: v for k, v in full.items() if k in keep}
    if level == "id":
        # Go serialises `&model.User{Id: id}`: the keys without omitempty appear with zero values.
        return {
            "id": user.id,
            "delete_at": 0,
            "username": "",
            "auth_service": "",
            "email": "",
            "nickname": "",
            "first_name": "",
            "last_name": "",
            "position": "",
            "roles": "",
            "locale": "",
            "timezone": None,
            "disable_welcome_email": False,
        }
    return None


def parse_level(raw: Any) -> tuple[bool, str]:
    """(required, level) from "+all", "summary", ... Anything else fails the call (`apps/expand.go`)."""
    if not isinstance(raw, str):
        raise ExpandError(f"{raw!r} is not a known expand level")
    required = raw.startswith("+")
    level = raw[1:] if required else raw
    if level not in EXPAND_LEVELS:
        raise ExpandError(f'"{raw}" is not a known expand level')
    return required, level


@dataclass
class InstalledApp:
    """What the plugin knows about the installed app."""

    app_id: str
    root_url: str
    secret: str
    bot: User
    bot_access_token: str
    site_url: str
    permissions: tuple[str, ...] = ("act_as_user", "act_as_bot", "remote_oauth2")
    use_jwt: bool = True
    oauth2_app: dict[str, Any] = field(default_factory=dict)  # remote_oauth2: client_id, client_secret, ...
    version: str = ""

    @property
    def app_path(self) -> str:
        return f"{PLUGIN_PATH}/apps/{self.app_id}"

    def oauth2_url(self, which: str) -> str:
        return f"{self.site_url.rstrip('/')}{self.app_path}/oauth2/remote/{which}"


def build_call_request(
    app: InstalledApp,
    call: dict[str, Any],
    *,
    acting_user: User | None,
    acting_user_access_token: str = "",
    stored_oauth2_user: bytes | None = None,
    values: dict[str, Any] | None = None,
    raw_command: str | None = None,
    developer_mode: bool = False,
) -> dict[str, Any]:
    """The JSON body the plugin POSTs to `{root_url}{call.path}`, after expand and cleanup."""
    expand: dict[str, Any] = call.get("expand") or {}
    context: dict[str, Any] = {
        "app_id": "",  # always "" after cleanup (v1.2.0+)
        "mattermost_site_url": app.site_url,
        "app_path": app.app_path,
        "bot_user_id": app.bot.id,
    }
    if developer_mode:
        context["developer_mode"] = True
    can_act = ("act_as_user" in app.permissions and acting_user is not None) or "act_as_bot" in app.permissions
    if expand and any(v for v in expand.values()) and not can_act:
        raise ExpandError("apps without any ActAs* permission can't expand")
    if "act_as_bot" in app.permissions:
        context["bot_access_token"] = app.bot_access_token
    oauth2: dict[str, Any] = {}

    for key, raw in expand.items():
        required, level = parse_level(raw)
        if not level:
            continue
        ok = True
        if key == "app":
            if level in ("summary", "all"):
                context["app"] = {
                    "app_id": app.app_id,
                    "version": app.version,
                    "bot_user_id": app.bot.id,
                    "bot_username": app.bot.username,
                }
                if level == "all":
                    context["app"]["deploy_type"] = "http"
        elif key == "acting_user":
            if acting_user is None:
                ok = False
            else:
                context["acting_user"] = strip_user(acting_user, level)
        elif key == "acting_user_access_token":
            if level == "all":
                if acting_user is None or "act_as_user" not in app.permissions or not acting_user_access_token:
                    ok = False
                else:
                    context["acting_user_access_token"] = acting_user_access_token
        elif key == "locale":
            if acting_user is not None:
                context["locale"] = acting_user.locale
        elif key == "oauth2_app":
            if level == "all":
                if "remote_oauth2" not in app.permissions:
                    ok = False
                else:
                    for name in ("remote_root_url", "client_id", "client_secret", "data"):
                        value = app.oauth2_app.get(name)
                        if value not in (None, ""):
                            oauth2[name] = value
                    oauth2["connect_url"] = app.oauth2_url("connect")
                    oauth2["complete_url"] = app.oauth2_url("complete")
        elif key == "oauth2_user" and level == "all":
            if "remote_oauth2" not in app.permissions or acting_user is None:
                ok = False
            elif stored_oauth2_user:
                value = json.loads(stored_oauth2_user)
                # Nothing stored, `{}` or `null`: the field is left out, with no error even at +all.
                if value is not None and value != {}:
                    oauth2["user"] = value
        # channel, team, post, ... are not used by this app; a real server would fill them.
        if not ok and required:
            raise ExpandError(f"failed to expand required {key}")

    context["oauth2"] = oauth2  # always present, {} when nothing was expanded
    request: dict[str, Any] = {"path": call["path"]}
    if expand:
        request["expand"] = expand
    if call.get("state") is not None:
        request["state"] = call["state"]
    if values:
        request["values"] = values
    request["context"] = context
    if raw_command:
        request["raw_command"] = raw_command
    return request


def sign_jwt(secret: str, acting_user_id: str = "", *, now: float | None = None, ttl: int = 15 * 60) -> str:
    """HS256 with `exp` (+15 min) and `acting_user_id` only when set."""
    claims: dict[str, Any] = {"exp": int((time.time() if now is None else now) + ttl)}
    if acting_user_id:
        claims["acting_user_id"] = acting_user_id
    return jwt.encode(claims, secret, algorithm="HS256")


def call_headers(app: InstalledApp, request: dict[str, Any]) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if app.use_jwt:
        acting = (request.get("context", {}).get("acting_user") or {}).get("id", "")
        headers[JWT_HEADER] = "Bearer " + sign_jwt(app.secret, acting)
    return headers


def ping_request() -> dict[str, Any]:
    """`/ping` at install is sent without expand."""
    return {
        "path": "/ping",
        "context": {"app_id": "", "mattermost_site_url": "", "app_path": "", "bot_user_id": "", "oauth2": {}},
    }
