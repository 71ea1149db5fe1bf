"""Everything the emulated Mattermost server and Apps plugin remember, in memory, behind one lock."""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from mattermost_apps.testing import InstalledApp, User

ID_ALPHABET = string.ascii_lowercase + string.digits
SESSION_TTL = 10 * 60  # app-minted sessions (`server/session/session.go`); user sessions do not expire here
STATE_TTL = 15 * 60  # OAuth2 state (`server/store/oauth2.go`)
PRUNE_EVERY = 5.0  # seconds between sweeps of expired app sessions (each call mints one or two)

SEEDED_USERS = (
    User(
        id="sysadmin00000000000000000a",
        username="sysadmin",
        roles="system_admin system_user",
        email="sysadmin@example.com",
        first_name="Sys",
        last_name="Admin",
    ),
    User(id="alice000000000000000000000", username="alice", email="alice@example.com", first_name="Alice"),
    User(id="bob00000000000000000000000", username="bob", email="bob@example.com", first_name="Bob"),
)


def new_id() -> str:
    """A Mattermost-style 26-character id."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(26))


def new_state(user_id: str) -> str:
    """15 random bytes, base64url without padding (20 chars), `.`, the user id (`CreateState`, `server/store/oauth2.go`)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(15)).decode().rstrip("=") + "." + user_id


def direct_channel_id(user_a: str, user_b: str) -> str:
    return hashlib.sha256("__".join(sorted((user_a, user_b))).encode()).hexdigest()[:26]


@dataclass
class Session:
    token: str
    user_id: str
    app_id: str = ""  # set for sessions the plugin mints for an app (session prop mattermost_app_id)
    expires_at: float | None = None


@dataclass
class AppRecord:
    """The installed app (`apps.App`): the manifest plus what the plugin adds at install."""

    manifest: dict[str, Any]
    secret: str
    bot: User
    webhook_secret: str
    remote_oauth2: dict[str, Any] = field(default_factory=dict)

    @property
    def app_id(self) -> str:
        return str(self.manifest["app_id"])

    @property
    def display_name(self) -> str:
        return str(self.manifest.get("display_name", ""))

    @property
    def root_url(self) -> str:
        return str((self.manifest.get("http") or {}).get("root_url", ""))

    @property
    def use_jwt(self) -> bool:
        return bool((self.manifest.get("http") or {}).get("use_jwt"))

    @property
    def permissions(self) -> tuple[str, ...]:
        return tuple(self.manifest.get("requested_permissions") or ())

    @property
    def locations(self) -> tuple[str, ...]:
        return tuple(self.manifest.get("requested_locations") or ())

    def installed(self, site_url: str, bot_access_token: str) -> InstalledApp:
        return InstalledApp(
            app_id=self.app_id,
            root_url=self.root_url,
            secret=self.secret,
            bot=self.bot,
            bot_access_token=bot_access_token,
            site_url=site_url,
            permissions=self.permissions,
            use_jwt=self.use_jwt,
            oauth2_app=dict(self.remote_oauth2),
            version=str(self.manifest.get("version") or ""),
            webhook_secret=self.webhook_secret,
        )


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.users = {user.id: User(**user.__dict__) for user in SEEDED_USERS}
            self.sessions: dict[str, Session] = {}
            self.app_sessions: dict[tuple[str, str], str] = {}  # (app_id, user_id) -> token
            self.events: list[dict[str, str]] = []  # websocket events the plugin publishes, e.g. refresh_bindings
            self._last_prune = 0.0
            self.app: AppRecord | None = None
            self.oauth2_users: dict[tuple[str, str], bytes] = {}
            self.kv: dict[tuple[str, str, str, str], bytes] = {}
            self.states: dict[str, float] = {}  # state -> expiry (the plugin's KV `.o<state>`)
            self.channels: dict[str, tuple[str, str]] = {}
            self.posts: list[dict[str, Any]] = []
            self.app_calls: list[dict[str, Any]] = []
            self.rest_calls: list[dict[str, Any]] = []

    # -- users and sessions --------------------------------------------------------------------------

    def user_by_name(self, username: str) -> User | None:
        with self.lock:
            return next((u for u in self.users.values() if u.username == username), None)

    def create_session(self, user_id: str, app_id: str = "") -> str:
        """A user's own session (no app), or the app's session for (app, user): the plugin reuses that one while it
        lives and extends it when less than half its 10 minutes remain (`GetOrCreate`, `server/session/session.go`)."""
        now = time.time()
        with self.lock:
            if app_id:
                token = self.app_sessions.get((app_id, user_id))
                if token is not None and self.session(token) is not None:
                    return token
            token = new_id()
            expires_at = now + SESSION_TTL if app_id else None
            self.sessions[token] = Session(token, user_id, app_id, expires_at)
            if app_id:
                self.app_sessions[(app_id, user_id)] = token
            if app_id and now - self._last_prune > PRUNE_EVERY:
                self._last_prune = now
                for key in [k for k, s in self.sessions.items() if s.expires_at is not None and s.expires_at < now]:
                    del self.sessions[key]
        return token

    def expire_app_sessions(self) -> int:
        """As if ten minutes had passed: every app session ends, and the next call mints a new one."""
        with self.lock:
            expired = [k for k, s in self.sessions.items() if s.app_id]
            for key in expired:
                self.sessions[key].expires_at = 0.0
            return len(expired)

    def session(self, token: str) -> Session | None:
        with self.lock:
            found = self.sessions.get(token)
            if found is None:
                return None
            if found.expires_at is not None:
                now = time.time()
                if found.expires_at < now:
                    del self.sessions[token]
                    return None
                if found.expires_at - now < SESSION_TTL / 2:
                    found.expires_at = now + SESSION_TTL
            return found

    # -- OAuth2 state (single use, bound to the user, 15 minutes) -----------------------------------

    def create_state(self, user_id: str) -> str:
        state = new_state(user_id)
        with self.lock:
            self.states[state] = time.time() + STATE_TTL
        return state

    def take_state(self, state: str) -> bool:
        """Read and delete: True only for a stored, unexpired state."""
        with self.lock:
            expires_at = self.states.pop(state, None)
        return expires_at is not None and expires_at > time.time()

    def expire_states(self) -> int:
        with self.lock:
            for state in self.states:
                self.states[state] = 0.0
            return len(self.states)

    # -- logs ------------------------------------------------------------------------------------------

    def log_app_call(self, path: str, status: int, response_type: str | None) -> None:
        with self.lock:
            self.app_calls.append({"path": path, "status": status, "type": response_type})

    def publish(self, event: str, user_id: str = "") -> None:
        """A websocket event for one user, or for everyone when `user_id` is empty."""
        with self.lock:
            self.events.append({"event": event, "user_id": user_id})

    def log_rest_call(self, method: str, path: str, status: int, caller: str) -> None:
        with self.lock:
            self.rest_calls.append({"method": method, "path": path, "status": status, "as": caller})
