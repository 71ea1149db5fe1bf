"""The Flask app: `create_app(settings)` builds it; `gunicorn app:app` serves it.

`app` is built on first access (PEP 562), so importing this module for `create_app` has no side effect.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from typing import Any

from flask import Flask

from bindings import Command
from commands import COMMANDS
from handlers import build_router, install, messages
from services import Services
from settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, commands: Sequence[Command] = COMMANDS) -> Flask:
    if settings is None:
        # Logging first, so that what reading the settings says (a generated APP_SECRET) is formatted like the rest.
        level = os.environ.get("LOG_LEVEL", "INFO").strip().upper()
        configure_logging(level if level in logging.getLevelNamesMapping() else "INFO")
        settings = Settings.from_env()
    configure_logging(settings.log_level)
    if settings.provider_urls_are_insecure:
        # Local providers (tests, `make demo`) speak plain http; oauthlib refuses it unless told.
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    if len(settings.app_secret.encode()) < 32:
        log.warning("APP_SECRET is shorter than 32 bytes; a longer one is safer for HS256.")
    warnings.filterwarnings("ignore", message="The HMAC key is .* below the minimum recommended length")
    if not settings.token_encryption_keys:
        log.info(
            "TOKEN_ENCRYPTION_KEY is not set: token records are encrypted with a key derived from APP_SECRET, "
            "which Mattermost's database also holds; set TOKEN_ENCRYPTION_KEY in production (see SECURITY.md)."
        )

    services = Services.build(settings, commands)
    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["services"] = services
    app.register_blueprint(install.http_routes(services))
    build_router(services).install(app, jwt_secret=settings.app_secret, services=services, explain=messages.failure)
    return app


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level)
    # urllib3 logs full URLs at DEBUG, and a revocation URL or an authorization redirect can carry a token.
    for library in ("urllib3", "requests_oauthlib", "oauthlib"):
        logging.getLogger(library).setLevel(max(logging.INFO, logging.getLevelName(level)))


_app: Flask | None = None


def __getattr__(name: str) -> Any:
    global _app
    if name == "app":
        if _app is None:
            _app = create_app()
        return _app
    raise AttributeError(name)
