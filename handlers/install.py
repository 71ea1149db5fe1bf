"""What the plugin needs to install the app: the manifest, the icon, `/ping`, and `on_install`; and a home page."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, jsonify, render_template, send_from_directory

from mattermost_apps import CallRequest, CallResponse, MattermostError, error, ok
from services import Services

from .messages import failure, text

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


def http_routes(services: Services) -> Blueprint:
    blueprint = Blueprint("install", __name__, template_folder=TEMPLATES_DIR)
    manifest = services.manifest

    @blueprint.get("/manifest.json")
    def manifest_json() -> Response:
        return jsonify(manifest)

    @blueprint.get("/static/<name>")
    def static_file(name: str) -> Response:
        # One flat folder: the plugin's static proxy passes a single path segment.
        return send_from_directory(STATIC_DIR, name, max_age=3600)

    @blueprint.get("/")
    def home() -> str:
        return render_template(
            "home.html",
            text=text,
            name=manifest["display_name"],
            description=manifest["description"],
            manifest_url=services.settings.manifest_root_url + "/manifest.json",
        )

    return blueprint


def ping(call: CallRequest, services: Services) -> CallResponse:
    return ok()


def on_install(call: CallRequest, services: Services) -> CallResponse:
    # The admin installing the app names the Mattermost it serves; nobody else can (see ClientFactory).
    try:
        services.mattermost.pin(call)
    except MattermostError as exc:
        return error(failure(exc))
    return ok(text("install.next_steps"))
