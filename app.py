"""The Flask app: `create_app(settings)` builds it; `gunicorn app:app` serves it.

`app` is built on first access (PEP 562), so importing this module for `create_app` has no side effect.
"""

from __future__ import annotations

import logging
import logging.config
import os
import warnings
from collections.abc import Sequence
from typing import Any

from flask import Flask

from bindings import Command
from commands import COMMANDS
from handlers import build_router, install, messages
from services import Services
from settings import Settings, log_config

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, commands: Sequence[Command] = COMMANDS, announce: bool = True) -> Flask:
    """The app. `announce=False` leaves the start-up notices to whoever already logged them (gunicorn.conf.py, once
    in the master process, rather than once per worker)."""
    if settings is None:
        # Logging first, so that what reading the settings says (a generated APP_SECRET) is formatted like the rest.
        configure_logging(
            os.environ.get("LOG_LEVEL", "INFO").strip().upper(), os.environ.get("LOG_FORMAT", "text").strip().lower()
        )
        settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    if settings.provider_urls_are_insecure:
        # Local providers (tests, `make demo`) speak plain http; oauthlib refuses it unless told.
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    warnings.filterwarnings("ignore", message="The HMAC key is .* below the minimum recommended length")
    if announce:
        for level, notice in settings.notices():
            log.log(level, notice)

    services = Services.build(settings, commands)
    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["services"] = services
    app.register_blueprint(install.http_routes(services))
    build_router(services).install(
        app, jwt_secret=settings.app_secret, services=services, explain=messages.failure, deadline=settings.call_deadline
    )
    return app


def configure_logging(level: str, log_format: str = "text") -> None:
    """One format for every line (`settings.log_config`), unless logging is set up already (by gunicorn from
    gunicorn.conf.py, or by a test runner): then only the levels. An unknown level or format means the default."""
    level = level if level in logging.getLevelNamesMapping() else "INFO"
    config = log_config(level, log_format if log_format in ("text", "json") else "text")
    if not logging.getLogger().handlers:
        logging.config.dictConfig(config)
        return
    logging.getLogger().setLevel(level)
    for name in ("urllib3", "requests_oauthlib", "oauthlib"):
        logging.getLogger(name).setLevel(config["loggers"][name]["level"])


_app: Flask | None = None


def __getattr__(name: str) -> Any:
    global _app
    if name == "app":
        if _app is None:
            # Served by gunicorn, whose gunicorn.conf.py has checked the settings and announced them once already.
            _app = create_app(announce=False)
        return _app
    raise AttributeError(name)
