"""`/_emulator/...`: the JSON control API the tests drive the emulator with (no auth: tests only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from mattermost_apps.testing import User

from .commands import run_command, submit
from .plugin import InstallFailed, Plugin


def control_api(plugin: Plugin) -> Blueprint:
    control = Blueprint("emulator_control", __name__, url_prefix="/_emulator")
    store = plugin.store

    def bad_request(message: str) -> tuple[Response, int]:
        return jsonify({"error": message}), 400

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}

    def user_named(name: Any) -> User | None:
        return store.user_by_name(name) if isinstance(name, str) else None

    @control.post("/install")
    def install() -> Response | tuple[Response, int]:
        data = body()
        manifest_url, secret = data.get("manifest_url"), data.get("secret", "")
        if not isinstance(manifest_url, str) or not isinstance(secret, str):
            return bad_request("manifest_url (string) and secret (string) are required")
        admin = store.user_by_name("sysadmin")
        assert admin is not None
        try:
            text = plugin.install(manifest_url, secret, admin)
        except InstallFailed as exc:
            return bad_request(str(exc))
        return jsonify({"text": text})

    @control.post("/sessions")
    def sessions() -> Response | tuple[Response, int]:
        user = user_named(body().get("username"))
        if user is None:
            return bad_request("unknown username")
        return jsonify({"token": store.create_session(user.id), "user_id": user.id})

    @control.post("/command")
    def command() -> Response | tuple[Response, int]:
        data = body()
        user = user_named(data.get("username"))
        if user is None or not isinstance(data.get("command"), str):
            return bad_request("username (a known user) and command are required")
        if store.app is None:
            return bad_request("no app is installed")
        if data.get("values"):
            return bad_request("a slash command carries no values besides its text: put them in the command")
        return jsonify(run_command(plugin, user, data["command"]))

    @control.post("/submit")
    def submit_call() -> Response | tuple[Response, int]:
        data = body()
        user = user_named(data.get("username"))
        call = data.get("call")
        if user is None or not isinstance(call, dict):
            return bad_request("username (a known user) and call are required")
        if store.app is None:
            return bad_request("no app is installed")
        values = data.get("values") if isinstance(data.get("values"), dict) else None
        return jsonify(submit(plugin, user, call, values))

    @control.get("/oauth2_user/<username>")
    def oauth2_user(username: str) -> Response | tuple[Response, int]:
        user = user_named(username)
        if user is None:
            return bad_request("unknown username")
        with store.lock:
            app_id = store.app.app_id if store.app else ""
            stored = store.oauth2_users.get((app_id, user.id))
        return jsonify({"stored": stored.decode() if stored is not None else None})

    @control.get("/oauth2_app")
    def oauth2_app() -> Response:
        with store.lock:
            return jsonify(dict(store.app.remote_oauth2) if store.app else {})

    @control.get("/posts/<username>")
    def posts(username: str) -> Response | tuple[Response, int]:
        user = user_named(username)
        if user is None:
            return bad_request("unknown username")
        with store.lock:
            channels = {cid for cid, members in store.channels.items() if user.id in members}
            found = [
                {"user_id": p["user_id"], "channel_id": p["channel_id"], "message": p["message"]}
                for p in store.posts
                if p["channel_id"] in channels and p["user_id"] != user.id
            ]
        return jsonify(found)

    @control.get("/log")
    def log() -> Response:
        with store.lock:
            return jsonify(
                {"app_calls": list(store.app_calls), "rest_calls": list(store.rest_calls), "events": list(store.events)}
            )

    @control.post("/log/clear")
    def clear_log() -> Response:
        with store.lock:
            store.app_calls.clear()
            store.rest_calls.clear()
            store.events.clear()
        return jsonify({})

    @control.post("/states/expire")
    def expire_states() -> Response:
        return jsonify({"expired": store.expire_states()})

    @control.post("/sessions/expire")
    def expire_sessions() -> Response:
        return jsonify({"expired": store.expire_app_sessions()})

    @control.post("/reset")
    def reset() -> Response:
        store.reset()
        return jsonify({})

    return control
