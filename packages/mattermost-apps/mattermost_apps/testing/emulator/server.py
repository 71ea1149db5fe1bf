"""An emulated Mattermost server with the Apps plugin v1.2.2, as a small Flask app.

`create_emulator(site_url)` builds it; `python -m mattermost_apps.testing.emulator --port N` serves it.
"""

from __future__ import annotations

import argparse
import sys

from flask import Flask
from werkzeug.serving import make_server

from .control import control_api
from .plugin import Plugin
from .rest import mattermost_api, plugin_api
from .store import Store
from .web import oauth2_routes, webapp


def create_emulator(site_url: str, *, developer_mode: bool = False) -> Flask:
    """`site_url` is the emulator's own base URL: `mattermost_site_url`, and the base of connect/complete URLs."""
    store = Store()
    plugin = Plugin(store, site_url, developer_mode=developer_mode)
    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["apps_plugin"] = plugin
    app.register_blueprint(plugin_api(plugin))
    app.register_blueprint(mattermost_api(plugin))
    app.register_blueprint(oauth2_routes(plugin))
    app.register_blueprint(webapp(plugin))
    app.register_blueprint(control_api(plugin))
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Emulated Mattermost + Apps plugin v1.2.2 (tests and demos only).")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--site-url", default="")
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port, create_emulator("placeholder"), threaded=True)
    site_url = args.site_url or f"http://{args.host}:{server.server_port}"
    server.app = create_emulator(site_url)
    print(f"emulator listening {site_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
