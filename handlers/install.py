"""What the plugin needs to install the app: the manifest, the icon, `/ping`, and `on_install`."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, jsonify, render_template_string, send_from_directory

import call_paths as paths
from mattermost_apps import CallRequest, CallResponse, CallRouter, ok
from services import Services

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

_HOME_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ name }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto; line-height: 1.5">
<h1><img src="static/icon.png" alt="" width="32" height="32"> {{ name }}</h1>
<p>{{ description }}</p>
<p>To install it, a Mattermost system admin runs:</p>
<pre>/apps install http {{ manifest_url }}</pre>
<p>and pastes the app's JWT secret (the <code>APP_SECRET</code> setting, or the file the app named in its log
on first start) into the install dialog's <em>Outgoing JWT Secret</em> field. Then <code>/google configure</code>.</p>
</body></html>
"""


def http_routes(services: Services) -> Blueprint:
    blueprint = Blueprint("install", __name__)
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
        return render_template_string(
            _HOME_PAGE,
            name=manifest["display_name"],
            description=manifest["description"],
            manifest_url=services.settings.manifest_root_url + "/manifest.json",
        )

    return blueprint


def ping(call: CallRequest, services: Services) -> CallResponse:
    return ok()


def on_install(call: CallRequest, services: Services) -> CallResponse:
    return ok("Next: run `/google configure` to register your Google OAuth2 client; then each user runs `/google connect`.")


def register(router: CallRouter) -> None:
    router.route(paths.PING)(ping)
    router.route(paths.INSTALL)(on_install)
