"""The REST API an app talks to (protocol §5): the plugin's `/api/v1` and the `/api/v4` calls a bot DM needs."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from mattermost_apps.testing import PLUGIN_PATH, User

from .plugin import HTTPError, Plugin, unauthorized
from .store import Session, direct_channel_id, new_id

API_PATH = PLUGIN_PATH + "/api/v1"
MAX_BODY = 8192  # MaxKVStoreValueLength
MAX_KV_PREFIX = 2
ADMIN_ONLY = "access to this operation is limited to users with permission: manage_system"


def token_from_request() -> str:
    """Bearer or Token header (case-insensitive), the MMAUTHTOKEN cookie, or `?access_token=` (§5.1)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return request.cookies.get("MMAUTHTOKEN") or request.args.get("access_token", "")


def current_session(plugin: Plugin) -> tuple[Session | None, User | None]:
    token = token_from_request()
    session = plugin.store.session(token) if token else None
    if session is None:
        return None, None
    with plugin.store.lock:
        user = plugin.store.users.get(session.user_id)
    return (session, user) if user is not None else (None, None)


def text_error(error: HTTPError) -> Response:
    return Response(error.text + "\n", status=error.status, mimetype="text/plain")


def _read_limited_body() -> bytes:
    body = request.get_data(cache=True)
    if len(body) > MAX_BODY:
        raise HTTPError(500, "size limit of 8Kb exceeded")
    return body


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def plugin_api(plugin: Plugin) -> Blueprint:
    api = Blueprint("apps_api", __name__, url_prefix=API_PATH)
    store = plugin.store

    @api.before_request
    def authenticate() -> None:
        session, user = current_session(plugin)
        g.session, g.user = session, user
        if session is None:
            g.caller = "none"
        elif session.app_id:
            g.caller = "bot" if user is not None and user.is_bot else "user"
        else:
            g.caller = "session"

    @api.after_request
    def log_call(response: Response) -> Response:
        store.log_rest_call(request.method, request.path, response.status_code, g.get("caller", "none"))
        return response

    @api.errorhandler(HTTPError)
    def on_error(error: HTTPError) -> Response:
        return text_error(error)

    def acting_user() -> User:
        if g.user is None:
            raise unauthorized("user ID is required")
        return g.user

    def source_app() -> str:
        """RequireSourceApp: only sessions the plugin minted for an app carry `mattermost_app_id`."""
        if not g.session.app_id:
            raise unauthorized("not an app session")
        with store.lock:
            if store.app is None or store.app.app_id != g.session.app_id:
                raise HTTPError(404, f"app {g.session.app_id} is not installed: not found")
            return store.app.app_id

    def not_a_bot(user: User) -> None:
        if user.is_bot:
            with store.lock:
                display = store.app.display_name if store.app else user.username
            raise unauthorized(f"@{user.username} ({display}): is a bot")

    def require_remote_oauth2(app_id: str) -> None:
        with store.lock:
            granted = store.app is not None and "remote_oauth2" in store.app.permissions
        if not granted:
            raise unauthorized(f"{app_id} is not authorized to use remote OAuth2")

    @api.route("/oauth2/app", methods=["POST", "PUT"])
    def store_oauth2_app() -> Response:
        user = acting_user()
        if not user.is_admin:
            raise unauthorized(ADMIN_ONLY)
        app_id = source_app()
        body = _read_limited_body()
        try:
            record = json.loads(body)
        except ValueError as exc:
            raise HTTPError(400, f"OAuth2App is not valid JSON: {exc}: invalid input") from None
        if not isinstance(record, dict):
            raise HTTPError(
                400,
                "OAuth2App is not valid JSON: json: cannot unmarshal "
                f"{type(record).__name__} into Go value of type apps.OAuth2App: invalid input",
            )
        require_remote_oauth2(app_id)
        replaced = {
            "remote_root_url": record.get("remote_root_url") or "",
            "client_id": record.get("client_id") or "",
            "client_secret": record.get("client_secret") or "",
            "data": record.get("data"),
        }
        with store.lock:
            if store.app is not None:
                store.app.remote_oauth2 = replaced
        return Response(b"", status=200)

    @api.route("/oauth2/user", methods=["POST", "PUT"])
    def store_oauth2_user() -> Response:
        user = acting_user()
        app_id = source_app()
        not_a_bot(user)
        body = _read_limited_body()
        if not _is_json(body):
            raise HTTPError(400, "payload is not valid JSON: invalid input")
        with store.lock:
            store.oauth2_users[(app_id, user.id)] = body
        return Response(b"", status=200)

    @api.get("/oauth2/user")
    def get_oauth2_user() -> Response:
        user = acting_user()
        not_a_bot(user)
        app_id = source_app()
        require_remote_oauth2(app_id)
        with store.lock:
            stored = store.oauth2_users.get((app_id, user.id), b"")
        response = Response(stored, status=200)
        del response.headers["Content-Type"]
        return response

    def kv(prefix: str, key: str) -> Response:
        user = acting_user()
        app_id = source_app()
        if len(prefix.encode()) > MAX_KV_PREFIX:
            raise HTTPError(500, f"prefix {json.dumps(prefix)} is longer than the limit of 2 ASCII characters")
        slot = (app_id, user.id, prefix, key)
        if request.method == "GET":
            with store.lock:
                stored = store.kv.get(slot, b"{}")
            return Response(stored, status=200, mimetype="application/json")
        if request.method == "DELETE":
            with store.lock:
                store.kv.pop(slot, None)
            return Response(b"", status=200)
        body = _read_limited_body()
        if not _is_json(body):
            raise HTTPError(400, "payload is not valid JSON: invalid input")
        with store.lock:
            store.kv[slot] = body
        return jsonify({"changed": True})

    methods = ["GET", "POST", "PUT", "DELETE"]
    api.add_url_rule("/kv/<key>", "kv", lambda key: kv("", key), methods=methods)
    api.add_url_rule("/kv/<prefix>/<key>", "kv_prefixed", kv, methods=methods)

    @api.post("/call")
    def call() -> Response:
        user = acting_user()
        try:
            call_request = json.loads(request.get_data())
        except ValueError as exc:
            raise HTTPError(400, f"failed to unmarshal Call request: {exc}: invalid input") from None
        if not isinstance(call_request, dict) or not (call_request.get("context") or {}).get("app_id"):
            raise HTTPError(400, "app_id is required in Context: invalid input")
        response = plugin.user_agent_call(user, call_request)
        with store.lock:
            if store.app is not None:
                response["app_metadata"] = {"bot_user_id": store.app.bot.id, "bot_username": store.app.bot.username}
        return jsonify(response)

    @api.get("/bindings")
    def bindings() -> Response:
        user = acting_user()
        try:
            result = plugin.bindings_for(user)
        except Exception:
            result = []
        return jsonify(result)

    return api


def _app_error(status: int, error_id: str, message: str) -> Response:
    body = {"id": error_id, "message": message, "detailed_error": "", "request_id": new_id(), "status_code": status}
    return Response(json.dumps(body), status=status, mimetype="application/json")


def mattermost_api(plugin: Plugin) -> Blueprint:
    """The few `/api/v4` routes an app's bot needs to send a direct message."""
    api = Blueprint("mattermost_api", __name__, url_prefix="/api/v4")
    store = plugin.store

    @api.before_request
    def authenticate() -> Response | None:
        session, user = current_session(plugin)
        g.session, g.user = session, user
        g.caller = (
            "none"
            if session is None
            else ("session" if not session.app_id else ("bot" if user is not None and user.is_bot else "user"))
        )
        if user is None:
            return _app_error(401, "api.context.session_expired.app_error", "Invalid or expired session, please login again.")
        return None

    @api.after_request
    def log_call(response: Response) -> Response:
        store.log_rest_call(request.method, request.path, response.status_code, g.get("caller", "none"))
        return response

    def user_json(user: User) -> dict[str, Any]:
        data = user.model()
        data.pop("auth_data", None)
        return data

    @api.get("/users/me")
    def me() -> Response:
        return jsonify(user_json(g.user))

    @api.post("/channels/direct")
    def direct_channel() -> Response:
        ids = request.get_json(silent=True)
        if not isinstance(ids, list) or len(ids) != 2 or not all(isinstance(i, str) for i in ids):
            return _app_error(400, "api.context.invalid_body_param.app_error", "Invalid or missing user_ids in request body.")
        with store.lock:
            if not all(i in store.users for i in ids):
                return _app_error(400, "api.context.invalid_body_param.app_error", "Invalid or missing user_ids in request body.")
            if g.user.id not in ids and not g.user.is_admin:
                return _app_error(403, "api.context.permissions.app_error", "You do not have the appropriate permissions.")
            channel_id = direct_channel_id(*ids)
            store.channels[channel_id] = (ids[0], ids[1])
        now = int(time.time() * 1000)
        return Response(
            json.dumps(
                {
                    "id": channel_id,
                    "create_at": now,
                    "update_at": now,
                    "delete_at": 0,
                    "team_id": "",
                    "type": "D",
                    "display_name": "",
                    "name": "__".join(sorted(ids)),
                }
            ),
            status=201,
            mimetype="application/json",
        )

    @api.post("/posts")
    def create_post() -> Response:
        body = request.get_json(silent=True)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("channel_id"), str)
            or not isinstance(body.get("message", ""), str)
        ):
            return _app_error(400, "api.context.invalid_body_param.app_error", "Invalid or missing post in request body.")
        with store.lock:
            members = store.channels.get(body["channel_id"])
            if members is None:
                return _app_error(404, "app.channel.get.existing.app_error", "Unable to find the existing channel.")
            if g.user.id not in members:
                return _app_error(403, "api.context.permissions.app_error", "You do not have the appropriate permissions.")
            now = int(time.time() * 1000)
            post = {
                "id": new_id(),
                "create_at": now,
                "update_at": now,
                "user_id": g.user.id,
                "channel_id": body["channel_id"],
                "message": body.get("message", ""),
                "props": body.get("props") or {},
            }
            store.posts.append(post)
        return Response(json.dumps(post), status=201, mimetype="application/json")

    return api
