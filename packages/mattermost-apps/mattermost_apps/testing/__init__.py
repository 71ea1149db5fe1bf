"""The testing kit for App authors: your app called exactly as Mattermost and the Apps plugin v1.2.2 call it.

- `Mattermost` (the `mattermost` pytest fixture): an emulated Mattermost with the Apps plugin on loopback. Install
  your app, run slash commands as a user, submit forms, ask lookups, read what was stored.
- `FakePlugin`: one signed call at a time to your app's Flask test client, with no Mattermost behind it.
- `build_call_request` reproduces the plugin's expand and context cleanup (`server/proxy/expand.go` in
  mattermost/mattermost-plugin-apps at v1.2.2), `sign_jwt` its `Mattermost-App-Authorization` token
  (`upstream/uphttp/upstream.go`).

Nothing here is used by an app at run time, and nothing of the SDK's run-time part imports it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from ..forms import EXPAND_KEYS, EXPAND_LEVELS
from ..jwt_auth import HEADER as JWT_HEADER
from ..jwt_auth import PLUGIN_TOKEN_LIFETIME
from ..paths import PING

PLUGIN_PATH = "/plugins/com.mattermost.apps"

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
    """(required, level) from "+all", "summary", ... Anything else fails the call (`ParseExpandLevel`, `apps/expand.go`)."""
    if not isinstance(raw, str):
        raise ExpandError(f"{raw!r} is not a known expand level")
    required = raw.startswith("+")
    level = raw[1:] if required else raw
    if level not in EXPAND_LEVELS:
        raise ExpandError(f"{json.dumps(level, ensure_ascii=False)} is not a known expand level")
    return required, level


def clean_expand(expand: Any) -> dict[str, str] | None:
    """The expand as Go re-serialises it (`apps.Expand`): known keys with a non-empty level, in struct order."""
    if expand is None:
        return None
    if not isinstance(expand, dict):
        raise ExpandError(f"json: cannot unmarshal {type(expand).__name__} into Go value of type apps.Expand")
    for key in EXPAND_KEYS:
        if expand.get(key) is not None and not isinstance(expand[key], str):
            raise ExpandError(f"json: cannot unmarshal {type(expand[key]).__name__} into Go struct field Expand.{key}")
    return {key: expand[key] for key in EXPAND_KEYS if expand.get(key)}


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
    webhook_secret: str = ""  # shown with expand `app: all` to system admins only

    @property
    def app_path(self) -> str:
        return f"{PLUGIN_PATH}/apps/{self.app_id}"

    def oauth2_url(self, which: str) -> str:
        return f"{self.site_url.rstrip('/')}{self.app_path}/oauth2/remote/{which}"


class ExpandGetter:
    """Where expand fetches users, channels, teams, members and posts (the plugin asks the REST API as the
    acting user or the bot). This one knows only the acting user; a raised LookupError's text is the reason."""

    def __init__(self, users: dict[str, User] | None = None) -> None:
        self.users = dict(users or {})

    def get_user(self, user_id: str) -> User:
        if user_id not in self.users:
            raise LookupError("not found")
        return self.users[user_id]

    def get_channel(self, channel_id: str) -> dict[str, Any]:
        raise LookupError("not found")

    def get_channel_member(self, channel_id: str, user_id: str) -> dict[str, Any]:
        raise LookupError("not found")

    def get_team(self, team_id: str) -> dict[str, Any]:
        raise LookupError("not found")

    def get_team_member(self, team_id: str, user_id: str) -> dict[str, Any]:
        raise LookupError("not found")

    def get_post(self, post_id: str) -> dict[str, Any]:
        raise LookupError("not found")


def _keep(obj: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: obj[k] for k in keys if k in obj}


# `Strip*` in `apps/expand.go`: the keys each level keeps (`all` keeps everything, a team loses its invite data).
_STRIP_IDS = {
    "channel_member": ("user_id", "channel_id"),
    "team_member": ("user_id", "team_id"),
    "channel": ("id", "team_id"),
    "team": ("id",),
    "post": ("id",),
}
_STRIP_SUMMARY = {
    "channel": ("id", "delete_at", "team_id", "type", "display_name", "name"),
    "team": ("id", "display_name", "name", "description", "email", "type"),
    "post": ("id", "type", "user_id", "channel_id", "root_id", "message"),
}


def _strip(kind: str, obj: dict[str, Any], level: str) -> dict[str, Any]:
    base = "post" if kind == "root_post" else kind
    if level == "id":
        return _keep(obj, _STRIP_IDS[base])
    if level == "summary" and base in _STRIP_SUMMARY:
        return _keep(obj, _STRIP_SUMMARY[base])
    if base == "team":
        return {k: v for k, v in obj.items() if k not in ("email", "invite_id", "allowed_domains")}
    return dict(obj)


# (field, levels it acts on), in the order `expander.expand` runs them (`server/proxy/expand.go`)
EXPAND_STEPS = (
    ("acting_user_access_token", ("all",)),
    ("acting_user", ("id", "summary", "all")),
    ("app", ("summary", "all")),
    ("channel_member", ("id", "summary", "all")),
    ("channel", ("id", "summary", "all")),
    ("locale", ("id", "summary", "all")),
    ("oauth2_app", ("all",)),
    ("oauth2_user", ("all",)),
    ("post", ("id", "summary", "all")),
    ("root_post", ("id", "summary", "all")),
    ("team_member", ("id", "summary", "all")),
    ("team", ("id", "summary", "all")),
    ("user", ("id", "summary", "all")),
)
# The order the expanded fields appear in the context: the same, without the two that fill `context.oauth2`.
_CONTEXT_ORDER = EXPAND_KEYS[:-2]


class _StepFailed(Exception):
    pass


def _display_name(user: User) -> str:
    return f"{user.first_name} {user.last_name}".strip() or user.username


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
    user_agent: dict[str, Any] | None = None,
    getter: ExpandGetter | None = None,
    selected_field: str | None = None,
    query: str | None = None,
) -> dict[str, Any]:
    """The JSON body the plugin POSTs to `{root_url}{call.path}`, after expand and cleanup.

    `user_agent` is the context the client sent (channel_id, team_id, post_id, root_post_id, user_id): expand
    reads the ids there, then the plugin removes it all. ExpandError's text is what the plugin reports after
    "failed to expand context: ".
    """
    expand = clean_expand(call.get("expand"))
    ua = user_agent or {}
    getter = getter or ExpandGetter({acting_user.id: acting_user} if acting_user else {})
    context: dict[str, Any] = {
        "app_id": "",  # the user agent's context is emptied (v1.2.0+); app_id has no omitempty
        "mattermost_site_url": app.site_url,
    }
    if developer_mode:
        context["developer_mode"] = True
    context["app_path"] = app.app_path
    context["bot_user_id"] = app.bot.id
    if "act_as_bot" in app.permissions and app.bot.id:
        context["bot_access_token"] = app.bot_access_token
    expanded: dict[str, Any] = {}
    oauth2: dict[str, Any] = {}
    getter_ready = False

    def user_token() -> str:
        if acting_user is None:
            raise _StepFailed("failed to get session: failed to fetch user for new session: invalid input")
        if not acting_user_access_token:  # a caller's way to say the plugin gave none
            raise _StepFailed("failed to get session: no acting_user_access_token given to build_call_request")
        return acting_user_access_token

    def ensure_getter() -> None:
        # `ensureGetter`: the acting user's session (the plugin can always make one) or the bot's
        if not ("act_as_user" in app.permissions and acting_user is not None) and "act_as_bot" not in app.permissions:
            raise ExpandError("apps without any ActAs* permission can't expand: unauthorized")

    def lookup(fetch: Any, *ids: str, wrap: str) -> dict[str, Any]:
        try:
            return fetch(*ids)
        except LookupError as exc:
            raise _StepFailed(f"{wrap}: {exc}") from None

    for key, acts_on in EXPAND_STEPS:
        required, level = parse_level((expand or {}).get(key, ""))
        if level not in acts_on:
            continue
        if not getter_ready:
            ensure_getter()
            getter_ready = True
        try:
            if key == "acting_user_access_token":
                if "act_as_user" not in app.permissions:
                    raise _StepFailed(f"{app.app_id} does not have permission to act_as_user: forbidden")
                expanded[key] = user_token()
            elif key in ("acting_user", "user"):
                user_id = ua.get("user_id", "") if key == "user" else (acting_user.id if acting_user else "")
                if not user_id:
                    raise _StepFailed("no user ID to expand")
                try:
                    user = getter.get_user(user_id)
                except LookupError as exc:
                    raise _StepFailed(f"id: {user_id}: {exc}") from None
                expanded[key] = strip_user(user, level)
            elif key == "app":
                stripped: dict[str, Any] = {"app_id": app.app_id}
                if app.version:
                    stripped["version"] = app.version
                if level == "all":
                    stripped["deploy_type"] = "http"
                    if acting_user is not None and acting_user.is_admin and app.webhook_secret:
                        stripped["webhook_secret"] = app.webhook_secret
                stripped["bot_user_id"] = app.bot.id
                stripped["bot_username"] = app.bot.username
                stripped["remote_oauth2"] = {}  # a struct: never omitted
                expanded[key] = {k: v for k, v in stripped.items() if v or k == "remote_oauth2"}
            elif key in ("channel_member", "team_member"):
                where = "channel_id" if key == "channel_member" else "team_id"
                user_id = ua.get("user_id") or (acting_user.id if acting_user else "")
                if not user_id or not ua.get(where):
                    raise _StepFailed("no user ID or channel ID to expand")
                fetch = getter.get_channel_member if key == "channel_member" else getter.get_team_member
                member = lookup(fetch, ua[where], user_id, wrap=f"failed to get {key.split('_')[0]} membership")
                expanded[key] = _strip(key, member, level)
            elif key in ("channel", "team"):
                object_id = ua.get(f"{key}_id", "")
                if not object_id:
                    raise _StepFailed(f"no {key} ID to expand")
                try:
                    found = (getter.get_channel if key == "channel" else getter.get_team)(object_id)
                except LookupError as exc:
                    if level != "id":  # ids are expanded even when the object cannot be read
                        raise _StepFailed(
                            f"id: {object_id}: {exc}" if key == "channel" else f"failed to get team {object_id}: {exc}"
                        ) from None
                    found = {"id": object_id, "team_id": ua.get("team_id", "")} if key == "channel" else {"id": object_id}
                expanded[key] = _strip(key, found, level)
            elif key == "locale":
                # `expandLocale`: the expanded acting user's locale, as stripped (at level "id" it has none, and the
                # server's default is used); with no acting user expanded, the user's own, read by id.
                if "acting_user" in expanded:
                    expanded[key] = expanded["acting_user"].get("locale") or "en"
                else:
                    expanded[key] = (acting_user.locale if acting_user else "") or "en"
            elif key in ("post", "root_post"):
                post_id = ua.get("post_id" if key == "post" else "root_post_id", "")
                if not post_id:
                    raise _StepFailed("no post ID to expand")
                expanded[key] = _strip(key, lookup(getter.get_post, post_id, wrap=f"failed to get post {post_id}"), level)
            elif key == "oauth2_app":
                if "remote_oauth2" not in app.permissions:
                    raise _StepFailed(f"{app.app_id} does not have permission to remote_oauth2: forbidden")
                for name in ("remote_root_url", "client_id", "client_secret", "data"):
                    value = app.oauth2_app.get(name)
                    if value not in (None, ""):
                        oauth2[name] = value
                oauth2["connect_url"] = app.oauth2_url("connect")
                oauth2["complete_url"] = app.oauth2_url("complete")
            elif key == "oauth2_user":
                if acting_user is None:
                    raise _StepFailed("no acting user id to expand")
                if "remote_oauth2" not in app.permissions:
                    raise _StepFailed(f"{app.app_id} does not have permission to remote_oauth2: forbidden")
                if acting_user.is_bot:
                    who = f"@{acting_user.username} ({_display_name(acting_user)})"
                    raise _StepFailed(f"user_id: {acting_user.id}: {who}: is a bot: unauthorized")
                # Nothing stored, `{}` or `null`: the field is left out, with no error even at +all.
                if stored_oauth2_user and stored_oauth2_user != b"{}":
                    value = json.loads(stored_oauth2_user)
                    if value is not None:
                        oauth2["user"] = value
        except _StepFailed as exc:
            if required:
                raise ExpandError(f"failed to expand required {key}: {exc}") from None

    for key in _CONTEXT_ORDER:
        if key in expanded:
            context[key] = expanded[key]
    context["oauth2"] = oauth2  # a struct: always present, {} when nothing was expanded
    request: dict[str, Any] = {"path": call["path"]}
    if expand is not None:
        request["expand"] = expand
    if call.get("state") is not None:
        request["state"] = call["state"]
    if values:
        request["values"] = values
    request["context"] = context
    for name, value in (("raw_command", raw_command), ("selected_field", selected_field), ("query", query)):
        if value:
            request[name] = value
    return request


def sign_jwt(secret: str, acting_user_id: str = "", *, now: float | None = None, ttl: int = PLUGIN_TOKEN_LIFETIME) -> str:
    """HS256 with `exp` (+15 min) and `acting_user_id` only when set, byte for byte as jwt-go writes it.

    Signed by hand: the plugin signs with an empty key when the admin gave no secret, which PyJWT refuses.
    """
    claims: dict[str, Any] = {"exp": int((time.time() if now is None else now) + ttl)}
    if acting_user_id:
        claims["acting_user_id"] = acting_user_id

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    signing_input = part(b'{"alg":"HS256","typ":"JWT"}') + "." + part(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + part(signature)


def call_headers(app: InstalledApp, request: dict[str, Any]) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if app.use_jwt:
        acting = (request.get("context", {}).get("acting_user") or {}).get("id", "")
        headers[JWT_HEADER] = "Bearer " + sign_jwt(app.secret, acting)
    return headers


def ping_request() -> dict[str, Any]:
    """`/ping` at install is sent without expand."""
    return {
        "path": PING,
        "context": {"app_id": "", "mattermost_site_url": "", "app_path": "", "bot_user_id": "", "oauth2": {}},
    }


@dataclass
class Served:
    url: str
    app: Flask
    stop: Callable[[], None]


def serve(factory: Callable[[str], Flask]) -> Served:
    """Serve `factory(url)` over real HTTP on a free loopback port, from a thread; the app is built once its own URL
    is known. `stop()` shuts it down."""
    server = make_server("127.0.0.1", 0, Flask("placeholder"), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app = server.app = factory(url)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return Served(url, app, stop)


# After everything above: the kit and the emulator are built on it.
from .kit import FakePlugin as FakePlugin  # noqa: E402
from .kit import Mattermost as Mattermost  # noqa: E402
