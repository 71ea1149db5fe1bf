"""The Flask app: `create_app(settings)` builds it; `python -m app` checks the settings once and serves it.

`python -m app` (what `make run` and the image run) reads and checks every setting once, with one line and exit status
1 for a bad one, says once what the configuration trusts and lacks, then runs gunicorn, whose gunicorn.conf.py holds
only the server's own settings. Each worker builds `app` on first access (PEP 562) from the same environment, so
importing this module for `create_app` has no side effect.
"""

from __future__ import annotations

import logging
import logging.config
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from flask import Flask

from bindings import Command
from commands import COMMANDS
from handlers import build_router, install, messages
from services import Services
from settings import ServerSettings, Settings, SettingsError, log_config, log_config_from_env

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, commands: Sequence[Command] = COMMANDS) -> Flask:
    """The app, from `settings` (tests build them directly), or from the environment."""
    if settings is None:
        # Logging first, so that what reading the settings says (a generated APP_SECRET) is formatted like the rest.
        configure_logging(log_config_from_env())
        settings = Settings.from_env()
    configure_logging(log_config(settings.log_level, settings.log_format))
    if settings.provider_urls_are_insecure:
        # Local providers (tests, `make demo`) speak plain http; oauthlib refuses it unless told.
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    warnings.filterwarnings("ignore", message="The HMAC key is .* below the minimum recommended length")

    services = Services.build(settings, commands)
    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["services"] = services
    app.register_blueprint(install.http_routes(services))
    build_router(services).install(
        app, jwt_secret=settings.app_secret, services=services, explain=messages.failure, deadline=settings.call_deadline
    )
    return app


def configure_logging(config: dict[str, Any]) -> None:
    """`config` (one format for every line, `settings.log_config`), unless logging is set up already (by gunicorn
    from gunicorn.conf.py, or by a test runner): then only its levels."""
    if not logging.getLogger().handlers:
        logging.config.dictConfig(config)
        return
    logging.getLogger().setLevel(config["root"]["level"])
    for name in ("urllib3", "requests_oauthlib", "oauthlib"):
        logging.getLogger(name).setLevel(config["loggers"][name]["level"])


def main() -> None:
    """`python -m app`: check every setting once, with one line and a non-zero exit for a bad one (gunicorn would fail
    with a traceback on a bad WEB_CONCURRENCY, and retry a taken port for 5 s with ten errors, none naming PORT), log
    what the configuration trusts and lacks once, then serve with gunicorn and gunicorn.conf.py."""
    configure_logging(log_config_from_env())  # what reading the settings says (a generated APP_SECRET) looks like the rest
    try:
        server = ServerSettings.from_env()  # first: a bad server setting must not leave a generated APP_SECRET behind
        settings = Settings.from_env()
        server.check_port_free()
    except SettingsError as exc:
        sys.exit(str(exc))
    for level, notice in settings.notices():
        log.log(level, notice)
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "app:app"])  # noqa: S606 - the same interpreter, fixed arguments


_app: Flask | None = None


def __getattr__(name: str) -> Any:
    global _app
    if name == "app":
        if _app is None:
            _app = create_app()
        return _app
    raise AttributeError(name)


if __name__ == "__main__":
    main()
