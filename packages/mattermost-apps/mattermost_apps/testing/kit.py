"""The testing kit's two ways to call an app as Mattermost does.

- `FakePlugin`: one signed CallRequest at a time, built exactly as the plugin builds it, posted to your Flask app's
  test client. No Mattermost at all: the REST calls your app makes are yours to stub.
- `Mattermost`: the emulated Mattermost with the Apps plugin, served over real HTTP on loopback. Install your app
  into it (a Flask app in-process, or a URL over real HTTP), run slash commands through the web client's parser as a
  user, submit forms and ask lookups, then read what it stored (OAuth2 records, KV, posts). Your app's REST calls
  reach the emulator for real.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from flask import Flask
from flask.testing import FlaskClient
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3 import HTTPResponse

from . import InstalledApp, Served, User, build_call_request, call_headers, serve
from .emulator import SEEDED_USERS, Plugin, Store, create_emulator
from .emulator.commands import run_command, submit
from .emulator.plugin import CallFailed

CALL_RESPONSE_TYPES = ("ok", "error", "form", "navigate")


@dataclass
class FakePlugin:
    """Calls the app as the Apps plugin does: expand, cleanup, JWT (`build_call_request`, `call_headers`).

    `tokens` maps a user id to the acting-user token the plugin would mint; `stored` is what Mattermost holds for
    (app, user) through `/oauth2/user`, as raw bytes; `default_user` acts in a call that names no `user`.
    """

    client: FlaskClient
    installed: InstalledApp
    tokens: dict[str, str] = field(default_factory=dict)
    stored: dict[str, bytes] = field(default_factory=dict)
    default_user: User | None = None

    def request(
        self,
        path: str,
        expand: dict[str, str] | None = None,
        *,
        user: User | Literal["default"] | None = "default",
        values: dict[str, Any] | None = None,
        state: Any = None,
        raw_command: str | None = None,
        selected_field: str | None = None,
        query: str | None = None,
    ) -> dict[str, Any]:
        """The JSON body the plugin would POST for this call, acting as `user` (None: no acting user)."""
        if user == "default":
            user = self.default_user
        return build_call_request(
            self.installed,
            {"path": path, "expand": expand or {}, "state": state},
            acting_user=user,
            acting_user_access_token=self.tokens.get(user.id, "") if user else "",
            stored_oauth2_user=self.stored.get(user.id) if user else None,
            values=values,
            raw_command=raw_command,
            selected_field=selected_field,
            query=query,
        )

    def call(self, path: str, expand: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
        """POST the call, signed; the CallResponse. The app must answer HTTP 200 with a CallResponse, always."""
        body = self.request(path, expand, **kwargs)
        response = self.client.post(path, data=json.dumps(body), headers=call_headers(self.installed, body))
        response.close()  # as a server does once the answer is sent: what runs after the response runs now
        assert response.status_code == 200, response.data
        result = response.get_json()
        assert isinstance(result, dict) and result.get("type") in CALL_RESPONSE_TYPES, result
        return result

    def store_user_record(self, user: User, record: Any) -> None:
        """What `POST /oauth2/user` would have stored for `user`: the next call's `context.oauth2.user`."""
        self.stored[user.id] = json.dumps(record).encode()

    def configure(self, client_id: str, client_secret: str) -> None:
        """What `POST /oauth2/app` would have stored: the next calls' `context.oauth2` client."""
        self.installed.oauth2_app = {"client_id": client_id, "client_secret": client_secret}


class WSGIAdapter(BaseAdapter):
    """A requests transport that hands each request to a WSGI app in this process (no socket)."""

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self._client = app.test_client()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = urlsplit(request.url or "")
        body = request.body.encode() if isinstance(request.body, str) else request.body
        answer = self._client.open(
            url.path or "/",
            method=request.method or "GET",
            query_string=url.query,
            headers=dict(request.headers),
            data=body,
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.headers)
        response.raw = HTTPResponse(
            body=io.BytesIO(answer.get_data()), headers=dict(answer.headers), status=answer.status_code, preload_content=False
        )
        response.url = request.url or ""
        response.request = request
        response.encoding = answer.mimetype_params.get("charset")
        answer.close()  # runs what the app does once the answer is sent
        return response

    def close(self) -> None:
        pass


class Mattermost:
    """An emulated Mattermost with the Apps plugin v1.2.2 on a loopback port, with the seeded users `sysadmin`, `alice`
    and `bob`. Use it as a context manager, or call `stop()`."""

    def __init__(self) -> None:
        self._served: Served = serve(create_emulator)
        self.url = self._served.url
        self.emulator: Flask = self._served.app
        self.plugin: Plugin = self.emulator.extensions["apps_plugin"]
        self.store: Store = self.plugin.store

    def __enter__(self) -> Mattermost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._served.stop()

    # -- users --------------------------------------------------------------------------------------------

    def user(self, username: str) -> User:
        found = self.store.user_by_name(username)
        if found is None:
            raise KeyError(f"no user {username!r}: the emulator knows {', '.join(u.username for u in SEEDED_USERS)}")
        return found

    # -- install ------------------------------------------------------------------------------------------

    def install(self, app: Flask | str, *, secret: str, admin: str = "sysadmin") -> str:
        """Install an app as `/apps install http <manifest URL>` does, with `secret` typed as its Outgoing JWT Secret;
        the plugin's answer. `app` is a Flask app (called in-process: its manifest's `root_url` is routed to it) or the
        URL of a running app's manifest (called over real HTTP)."""
        if isinstance(app, str):
            manifest_url = app
        else:
            manifest = app.test_client().get("/manifest.json").get_json()
            root_url = manifest["http"]["root_url"].rstrip("/")
            self.plugin.http.mount(root_url + "/", WSGIAdapter(app))
            manifest_url = root_url + "/manifest.json"
        return self.plugin.install(manifest_url, secret, self.user(admin))

    # -- what a user does -----------------------------------------------------------------------------------

    def command(self, text: str, *, as_user: str = "alice") -> dict[str, Any]:
        """Type `text` (`/hello greet --name Ann`) and press Enter: what the web client shows, as a CallResponse. A
        command the parser refuses is a `type: error` with the client's own sentence."""
        return run_command(self.plugin, self.user(as_user), text)

    def submit(self, call: dict[str, Any], values: dict[str, Any] | None = None, *, as_user: str = "alice") -> dict[str, Any]:
        """Submit a modal form (`form["submit"]`) with `values` as the web client sends them."""
        return submit(self.plugin, self.user(as_user), call, values)

    def lookup(
        self,
        call: dict[str, Any],
        *,
        selected_field: str,
        query: str = "",
        values: dict[str, Any] | None = None,
        as_user: str = "alice",
    ) -> dict[str, Any]:
        """Ask a dynamic select's `lookup` call for its items, as the web client does while the user types."""
        request = {
            "path": call["path"],
            "expand": call.get("expand"),
            "state": call.get("state"),
            "values": values or {},
            "selected_field": selected_field,
            "query": query,
            "context": {"app_id": self.plugin.app().app_id},
        }
        return self.plugin.user_agent_call(self.user(as_user), request)

    def bindings(self, *, as_user: str = "alice") -> list[dict[str, Any]]:
        """The bindings the plugin hands the web client for this user (after its cleanup)."""
        bindings, _problems = self.plugin.bindings_for(self.user(as_user), {"user_agent": "webapp"})
        return bindings

    def command_binding(self, *words: str, as_user: str = "alice") -> dict[str, Any]:
        """The binding of `/words...`, e.g. `command_binding("hello", "greet")`: its `form` holds the fields."""
        candidates = [b for top in self.bindings(as_user=as_user) if top.get("location") == "/command" for b in top["bindings"]]
        binding: dict[str, Any] = {"bindings": candidates}
        for word in words:
            binding = next(b for b in binding.get("bindings", []) if b.get("label", "").lower() == word.lower())
        return binding

    # -- what Mattermost holds --------------------------------------------------------------------------------

    def oauth2_user(self, username: str) -> Any:
        """The record the app stored for this user with `POST /oauth2/user` (None if nothing, or `null`)."""
        with self.store.lock:
            app_id = self.store.app.app_id if self.store.app else ""
            stored = self.store.oauth2_users.get((app_id, self.user(username).id))
        return json.loads(stored) if stored else None

    def oauth2_app(self) -> dict[str, Any]:
        """The app's OAuth2 client record (`POST /oauth2/app`)."""
        with self.store.lock:
            return dict(self.store.app.remote_oauth2) if self.store.app else {}

    def posts(self, username: str) -> list[str]:
        """The messages others (the app's bot) posted in channels `username` is in, oldest first."""
        user_id = self.user(username).id
        with self.store.lock:
            channels = {cid for cid, members in self.store.channels.items() if user_id in members}
            return [p["message"] for p in self.store.posts if p["channel_id"] in channels and p["user_id"] != user_id]


__all__ = ["CallFailed", "FakePlugin", "Mattermost", "WSGIAdapter"]
