"""The REST API an app talks to: the plugin's `/api/v1` and the `/api/v4` calls a bot DM needs.

Plugin side (mattermost/mattermost-plugin-apps at v1.2.2): `server/httpin/service.go` (routes),
`server/httpin/oauth2_store.go`, `server/httpin/kv.go`, `server/httpin/call.go`, `server/httpin/bindings.go`,
`server/appservices/oauth2.go`, `server/appservices/kv.go`, `server/incoming/request.go` (the checks and their
texts), `utils/httputils/utils.go` (`LimitReadAll`: the body is read, and its size checked, before any check).
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from mattermost_apps.testing import PLUGIN_PATH, User

from . import golang
from .plugin import REFRESH_BINDINGS, HTTPError, Plugin, not_installed, unauthorized
from .store import Session, direct_channel_id, new_id

API_PATH = PLUGIN_PATH + "/api/v1"
MAX_BODY = 8192  # MaxKVStoreValueLength
MAX_KV_PREFIX = 2
ADMIN_ONLY = "access to this operation is limited to users with permission: manage_system"


def token_from_request() -> str:
    """Bearer or Token header (case-insensitive), the MMAUTHTOKEN cookie, or `?access_token=` (the server's own rules)."""
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


OAUTH2_APP_KEYS = ("remote_root_url", "client_id", "client_secret", "data")


def go_oauth2_app_json(record: dict[str, Any]) -> bytes:
    """`json.Marshal(apps.OAuth2App)`: the bytes a stored record is compared with (all four keys omitempty)."""
    kept = {k: record[k] for k in OAUTH2_APP_KEYS if record.get(k) not in (None, "")}
    return json.dumps(kept, separators=(",", ":"), ensure_ascii=False).encode()


def decode_oauth2_app(body: bytes) -> dict[str, Any]:
    """`json.Unmarshal(data, &apps.OAuth2App{})`: null is an empty record; other shapes fail with Go's text."""
    problem = golang.json_syntax_error(body)
    if problem is not None:
        raise HTTPError(400, f"OAuth2App is not valid JSON: {problem}: invalid input")
    value = json.loads(body)
    if value is None:
        value = {}
    if not isinstance(value, dict):
        kind = golang.go_json_type(value)
        raise HTTPError(
            400, f"OAuth2App is not valid JSON: json: cannot unmarshal {kind} into Go value of type apps.OAuth2App: invalid input"
        )
    for key in OAUTH2_APP_KEYS[:3]:
        if value.get(key) is not None and not isinstance(value[key], str):
            kind = golang.go_json_type(value[key])
            why = f"json: cannot unmarshal {kind} into Go struct field OAuth2App.{key} of type string"
            raise HTTPError(400, f"OAuth2App is not valid JSON: {why}: invalid input")
    return {
        "remote_root_url": value.get("remote_root_url") or "",
        "client_id": value.get("client_id") or "",
        "client_secret": value.get("client_secret") or "",
        "data": value.get("data"),
    }


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

    def source_app_id() -> str:
        """RequireSourceApp: only sessions the plugin minted for an app carry `mattermost_app_id`."""
        if not g.session.app_id:
            raise unauthorized("not an app session")
        return str(g.session.app_id)

    def installed_app(app_id: str) -> Any:
        with store.lock:
            if store.app is None or store.app.app_id != app_id:
                raise not_installed(app_id)
            return store.app

    def not_a_bot(user: User) -> None:
        if user.is_bot:
            with store.lock:
                display = store.app.display_name if store.app else user.username
            raise unauthorized(f"@{user.username} ({display}): is a bot")

    def require_remote_oauth2(record: Any) -> None:
        if "remote_oauth2" not in record.permissions:
            raise unauthorized(f"{record.app_id} is not authorized to use remote OAuth2")

    @api.route("/oauth2/app", methods=["POST", "PUT"])
    def store_oauth2_app() -> Response:
        body = _read_limited_body()
        user = acting_user()
        if not user.is_admin:
            raise unauthorized(ADMIN_ONLY)
        app_id = source_app_id()
        replaced = decode_oauth2_app(body)
        record = installed_app(app_id)
        require_remote_oauth2(record)
        with store.lock:
            unchanged = go_oauth2_app_json(record.remote_oauth2) == body
            if not unchanged:
                record.remote_oauth2 = replaced
        if not unchanged:
            store.publish(REFRESH_BINDINGS)  # to everyone
        return Response(b"", status=200)

    @api.route("/oauth2/user", methods=["POST", "PUT"])
    def store_oauth2_user() -> Response:
        body = _read_limited_body()
        user = acting_user()
        app_id = source_app_id()
        not_a_bot(user)
        if golang.json_syntax_error(body) is not None:
            raise HTTPError(400, "payload is not valid JSON: invalid input")
        require_remote_oauth2(installed_app(app_id))
        with store.lock:
            changed = store.oauth2_users.get((app_id, user.id)) != body
            store.oauth2_users[(app_id, user.id)] = body
        if changed:
            store.publish(REFRESH_BINDINGS, user.id)
        return Response(b"", status=200)

    @api.get("/oauth2/user")
    def get_oauth2_user() -> Response:
        user = acting_user()
        not_a_bot(user)
        app_id = source_app_id()
        require_remote_oauth2(installed_app(app_id))
        with store.lock:
            stored = store.oauth2_users.get((app_id, user.id), b"")
        response = Response(stored, status=200)
        del response.headers["Content-Type"]
        return response

    def kv(prefix: str, key: str) -> Response:
        body = _read_limited_body() if request.method in ("POST", "PUT") else b""
        user = acting_user()
        app_id = source_app_id()
        if request.method in ("POST", "PUT") and golang.json_syntax_error(body) is not None:
            raise HTTPError(400, "payload is not valid json: invalid input")
        if len(prefix.encode()) > MAX_KV_PREFIX:  # `Hashkey`, server/store/service.go: bytes
            raise HTTPError(500, f"prefix {golang.quote(prefix)} is longer than the limit of 2 ASCII characters")
        slot = (app_id, user.id, prefix, key)
        if request.method == "GET":
            with store.lock:
                stored = store.kv.get(slot) or b"{}"
            return Response(stored, status=200, mimetype="application/json")
        if request.method == "DELETE":
            with store.lock:
                store.kv.pop(slot, None)
            return Response(b"", status=200)
        with store.lock:
            store.kv[slot] = body
        return jsonify({"changed": True})

    methods = ["GET", "POST", "PUT", "DELETE"]
    api.add_url_rule("/kv/<key>", "kv", lambda key: kv("", key), methods=methods)
    api.add_url_rule("/kv/<prefix>/<key>", "kv_prefixed", kv, methods=methods)

    @api.post("/call")
    def call() -> Response:
        try:
            call_request = golang.loads(request.get_data())
        except ValueError as exc:
            raise HTTPError(400, f"failed to unmarshal Call request: {exc}: invalid input") from None
        if not isinstance(call_request, dict) or not (call_request.get("context") or {}).get("app_id"):
            raise HTTPError(400, "app ID is not set in Call request: invalid input")
        if g.user is None:
            response = {"type": "error", "text": "user ID is required: unauthorized"}
        elif call_request.get("path") in (None, ""):
            # `creq.Path[0]` on an empty path: the handler panics and the plugin's recover answers.
            raise HTTPError(500, "Panicked while handling the request. Please check the server logs for more details.")
        else:
            response = plugin.user_agent_call(g.user, call_request)
        return jsonify({**response, "app_metadata": plugin.app_metadata(call_request["context"]["app_id"])})

    @api.get("/bindings")
    def bindings() -> Response:
        """`GET /bindings`: `null` without a user; `?test=1` adds the problems Go collected as `error`."""
        if g.user is None:
            found: list[dict[str, Any]] | None = None
            problems = ["user ID is required: unauthorized"]
        else:
            user_agent = {
                key: request.args.get(arg, "")
                for key, arg in (("team_id", "team_id"), ("channel_id", "channel_id"), ("user_agent", "user_agent_type"))
            }
            try:
                found, problems = plugin.bindings_for(g.user, user_agent)
            except Exception as exc:
                found, problems = [], [str(exc)]
        if request.args.get("test"):
            out: dict[str, Any] = {"bindings": found}
            if problems:
                out["error"] = golang.multierror(problems)
            return jsonify(out)
        return jsonify(found)

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
