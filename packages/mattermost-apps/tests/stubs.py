"""Helpers for the SDK's own tests: a tiny stub app, its manifest, and ways to install it into the emulator."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

import jwt
from flask import Flask, Response, jsonify, request
from flask.testing import FlaskClient

from mattermost_apps.testing import JWT_HEADER, User
from mattermost_apps.testing.emulator.plugin import Plugin
from mattermost_apps.testing.emulator.store import AppRecord

SITE_URL = "http://mattermost.test"
STUB_SECRET = "stub-secret-0123456789abcdef-0123456789"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def stub_manifest(root_url: str, **overrides: Any) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "app_id": "stub-app",
        "version": "v1.0.0",
        "display_name": "Stub App",
        "homepage_url": root_url,
        "icon": "icon.png",
        "requested_permissions": ["act_as_user", "act_as_bot", "remote_oauth2"],
        "requested_locations": ["/command"],
        "bindings": {"path": "/bindings", "expand": {"acting_user": "summary"}},
        "http": {"root_url": root_url, "use_jwt": True},
    }
    manifest.update(overrides)
    return {k: v for k, v in manifest.items() if v is not None}


def verify_hs256(token: str, secret: str) -> dict[str, Any]:
    """The claims of an HS256 JWT signed with `secret`, even an empty one (which PyJWT refuses to use)."""
    if secret:
        return jwt.decode(token, secret, algorithms=["HS256"])
    signing_input, _, signature = token.rpartition(".")
    expected = base64.urlsafe_b64encode(hmac.new(b"", signing_input.encode(), hashlib.sha256).digest()).rstrip(b"=")
    if not hmac.compare_digest(expected, signature.encode()):
        raise jwt.InvalidSignatureError("Signature verification failed")
    payload = signing_input.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@dataclass
class StubApp:
    """A minimal App: records every call it gets (with its verified JWT claims) and answers what a test sets."""

    manifest_overrides: dict[str, Any] = field(default_factory=dict)
    ping_status: int = 200
    icon_status: int = 200
    responses: dict[str, Any] = field(default_factory=dict)  # path -> CallResponse, or (status, raw body)
    calls: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    verify_with: str = STUB_SECRET  # the JWT secret the stub checks calls with

    def manifest(self) -> dict[str, Any]:
        return stub_manifest(self.url, **self.manifest_overrides)

    def paths(self) -> list[str]:
        return [c["path"] for c in self.calls]

    def last(self, path: str) -> dict[str, Any]:
        return next(c for c in reversed(self.calls) if c["path"] == path)

    def flask_app(self) -> Flask:
        app = Flask("stub_app")

        @app.get("/manifest.json")
        def manifest() -> Response:
            return jsonify(self.manifest())

        @app.get("/static/<name>")
        def static_file(name: str) -> Response:
            return Response(PNG, status=self.icon_status, mimetype="image/png")

        @app.post("/<path:path>")
        def call(path: str) -> Response:
            path = "/" + path
            header = request.headers.get(JWT_HEADER, "")
            claims = verify_hs256(header.removeprefix("Bearer "), self.verify_with) if header else None
            body = json.loads(request.get_data())
            self.calls.append({"path": path, "body": body, "claims": claims})
            if path == "/ping":
                return Response(json.dumps({"type": "ok"}), status=self.ping_status, mimetype="application/json")
            answer = self.responses.get(path, {"type": "ok", "text": f"called {path}"})
            if isinstance(answer, tuple):
                status, raw = answer
                return Response(raw, status=status)
            return jsonify(answer)

        return app


def seed_app(plugin: Plugin, root_url: str = "http://127.0.0.1:9", **overrides: Any) -> AppRecord:
    """Install without any network: the record the plugin keeps after an install (`server/proxy/install.go`)."""
    bot_id = "b0t" + "0" * 23
    manifest = stub_manifest(root_url, **overrides)
    bot = User(id=bot_id, username=manifest["app_id"].lower(), is_bot=True)
    record = AppRecord(manifest=manifest, secret=STUB_SECRET, bot=bot, webhook_secret="w" * 26)
    with plugin.store.lock:
        plugin.store.users[bot.id] = bot
        plugin.store.app = record
    return record


def install(emu: FlaskClient, stub: StubApp, secret: str = STUB_SECRET) -> dict[str, Any]:
    response = emu.post("/_emulator/install", json={"manifest_url": stub.url + "/manifest.json", "secret": secret})
    return {"status": response.status_code, **response.get_json()}


def session_token(emu: FlaskClient, username: str) -> str:
    return emu.post("/_emulator/sessions", json={"username": username}).get_json()["token"]
