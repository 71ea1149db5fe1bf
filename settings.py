"""The app's settings: one typed object read from the environment and validated at start.

Every setting is documented in the README's settings table; tests build `Settings` directly. A bad value raises
`SettingsError` with one sentence naming the variable and what it accepts; `gunicorn.conf.py` checks them all in
the master process, before any worker starts, and stops with that one line.
"""

from __future__ import annotations

import base64
import errno
import json
import logging
import os
import re
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from provider import AppProvider, calendar

log = logging.getLogger(__name__)

DEFAULT_APP_SECRET_FILE = Path(__file__).resolve().parent / "instance" / "app_secret"
SITE_URL_FILE_NAME = "mattermost_site_url"  # beside APP_SECRET_FILE
DEFAULT_PORT = 8080
# The plugin gives a call 30 s: everything the app sends for one call must be done well before.
PLUGIN_CALL_TIMEOUT = 30.0

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LOG_FORMATS = ("text", "json")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
# Keys derived from APP_SECRET with HKDF-SHA256, one per purpose. These bytes must never change, even when the app is
# renamed or switches provider: changing the salt or a purpose makes every stored token record unreadable.
KEY_DERIVATION_SALT = b"mattermost-app-google-oauth2"


class SettingsError(ValueError):
    """A setting has a value the app cannot start with; the message names the variable and what it accepts."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    app_secret: str = field(repr=False)
    root_url: str = field(default_factory=lambda: local_root_url(DEFAULT_PORT))
    mattermost_site_url: str | None = None
    # Without MATTERMOST_SITE_URL: where the Mattermost the app's install named is kept (beside the generated
    # APP_SECRET). None: kept in memory only (tests).
    site_url_file: Path | None = None
    oauth2_authorize_url: str = AppProvider.authorize_url
    oauth2_token_url: str = AppProvider.token_url
    oauth2_revoke_url: str = AppProvider.revoke_url
    oauth2_userinfo_url: str = AppProvider.userinfo_url
    oauth2_issuer: str = AppProvider.issuer
    # None: as the provider class says (AppProvider.rotates_refresh_tokens).
    oauth2_rotates_refresh_tokens: bool | None = None
    oauth2_scopes: tuple[str, ...] = AppProvider.scopes
    google_api_url: str = calendar.API_URL
    # Fernet keys, newest first: the first encrypts, all of them decrypt. Empty: derived from app_secret.
    token_encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    http_timeout: float = 10.0
    call_deadline: float = 25.0
    redis_url: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    log_format: str = "text"

    def __post_init__(self) -> None:
        if not self.app_secret:
            raise SettingsError("APP_SECRET must not be empty.")
        for name in ("root_url", "oauth2_authorize_url", "oauth2_token_url", "oauth2_userinfo_url", "google_api_url"):
            _require_http_url(name.upper(), getattr(self, name))
        if self.oauth2_revoke_url:  # empty: the provider has no revocation endpoint
            _require_http_url("OAUTH2_REVOKE_URL", self.oauth2_revoke_url)
        if self.mattermost_site_url is not None:
            _require_http_url("MATTERMOST_SITE_URL", self.mattermost_site_url)
        if self.oauth2_rotates_refresh_tokens is False and AppProvider.rotates_refresh_tokens:
            raise SettingsError(
                f"OAUTH2_ROTATES_REFRESH_TOKENS=false contradicts the {AppProvider.name} provider class, which says its refresh "
                "tokens rotate (a replayed one revokes the grant): unset it, or set rotates_refresh_tokens on the class."
            )
        if not self.oauth2_scopes:
            raise SettingsError("OAUTH2_SCOPES must name at least one scope.")
        for key in self.token_encryption_keys:
            try:
                Fernet(key)
            except (ValueError, TypeError):
                raise SettingsError(
                    "TOKEN_ENCRYPTION_KEY must be a comma-separated list of Fernet keys (32 url-safe base64-encoded bytes each)."
                ) from None
        if not self.http_timeout > 0:
            raise SettingsError("HTTP_TIMEOUT must be a positive number of seconds.")
        if not self.http_timeout <= self.call_deadline < PLUGIN_CALL_TIMEOUT:
            raise SettingsError(
                f"CALL_DEADLINE must be at least HTTP_TIMEOUT ({self.http_timeout:g} s) and under the plugin's "
                f"{PLUGIN_CALL_TIMEOUT:g} s, not {self.call_deadline:g}."
            )
        if self.redis_url is not None and urlsplit(self.redis_url).scheme not in ("redis", "rediss", "unix"):
            raise SettingsError("REDIS_URL must be a redis://, rediss:// or unix:// URL.")
        if self.log_level not in _LOG_LEVELS:
            raise SettingsError(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}.")
        if self.log_format not in _LOG_FORMATS:
            raise SettingsError(f"LOG_FORMAT must be one of {', '.join(_LOG_FORMATS)}.")

    @cached_property
    def token_keys(self) -> tuple[str, ...]:
        """The Fernet keys of the token records, the first encrypting: TOKEN_ENCRYPTION_KEY, then the key derived from
        APP_SECRET, which then only decrypts (the records of a deployment that had no TOKEN_ENCRYPTION_KEY stay readable,
        and each is sealed under the new key at its next write)."""
        derived = base64.urlsafe_b64encode(self._derive_key("token-encryption")).decode("ascii")
        return (*self.token_encryption_keys, derived)

    @cached_property
    def pkce_key(self) -> bytes:
        """The key the PKCE verifier is derived with (provider/pkce.py)."""
        return self._derive_key("pkce")

    def _derive_key(self, purpose: str) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=KEY_DERIVATION_SALT, info=purpose.encode()).derive(
            self.app_secret.encode()
        )

    @property
    def manifest_root_url(self) -> str:
        return self.root_url.rstrip("/")

    @property
    def provider_urls_are_insecure(self) -> bool:
        """True when a provider URL is plain http (local test providers); Google's are https."""
        urls = (self.oauth2_authorize_url, self.oauth2_token_url, self.oauth2_revoke_url, self.oauth2_userinfo_url)
        return any(urlsplit(url).scheme == "http" for url in urls if url)

    def notices(self) -> list[tuple[int, str]]:
        """What an admin should hear once at each start, with its log level: what this configuration trusts, and
        what it lacks."""
        notices = []
        if len(self.app_secret.encode()) < 32:
            notices.append((logging.WARNING, "APP_SECRET is shorter than 32 bytes; a longer one is safer for HS256."))
        if not self.token_encryption_keys:
            notices.append(
                (
                    logging.INFO,
                    "TOKEN_ENCRYPTION_KEY is not set: token records are encrypted with a key derived from APP_SECRET, "
                    "which Mattermost's database also holds; set TOKEN_ENCRYPTION_KEY in production (see SECURITY.md).",
                )
            )
        if self.mattermost_site_url is None:
            notices.append(
                (
                    logging.INFO,
                    "MATTERMOST_SITE_URL is not set: the app trusts the Mattermost its install named"
                    + (f", kept in {self.site_url_file}," if self.site_url_file else "")
                    + " and refuses calls naming another; set MATTERMOST_SITE_URL to pin it (see SECURITY.md).",
                )
            )
        return notices

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment sets: an unset or empty variable keeps the field's default (written once, on
        the field). ROOT_URL, unset, follows PORT: `PORT=18080 make run` advertises the port it listens on."""
        env = os.environ if environ is None else environ
        values = read_env(env, _SETTINGS_ENV)
        if "root_url" not in values and (port := read_env(env, {"port": ("PORT", _whole_number)}).get("port")):
            values["root_url"] = local_root_url(port)
        secret_file = Path(env.get("APP_SECRET_FILE", "").strip() or DEFAULT_APP_SECRET_FILE)
        values["site_url_file"] = secret_file.with_name(SITE_URL_FILE_NAME)
        # Everything else is checked before APP_SECRET is read, so a typo never leaves a generated secret behind.
        cls(app_secret="checked-below", **values)  # noqa: S106 - a placeholder, to check the rest first
        secret = env.get("APP_SECRET", "").strip() or load_or_create_app_secret(secret_file)
        return cls(app_secret=secret, **values)


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """What gunicorn.conf.py reads: where to listen, how many worker processes, how many connections each serves."""

    host: str = "0.0.0.0"  # noqa: S104 - a server's job
    port: int = DEFAULT_PORT
    workers: int = 2
    worker_connections: int = 1000

    def __post_init__(self) -> None:
        if not self.host or any(c.isspace() for c in self.host):
            raise SettingsError(f"HOST must be a host name or an IP address, not {self.host!r}.")
        if not 1 <= self.port <= 65535:
            raise SettingsError(f"PORT must be between 1 and 65535, not {self.port}.")
        if not 1 <= self.workers <= 64:
            raise SettingsError(f"WEB_CONCURRENCY must be a number of worker processes from 1 to 64, not {self.workers}.")
        if not 10 <= self.worker_connections <= 100_000:
            raise SettingsError(
                f"GUNICORN_WORKER_CONNECTIONS must be from 10 to 100000 connections a worker, not {self.worker_connections}."
            )

    def check_port_free(self) -> None:
        """Refuse, in one line naming PORT, a port something already listens on (gunicorn would retry for 5 s and log
        ten errors). Bound with SO_REUSEADDR as gunicorn binds, so a port in TIME_WAIT still counts as free."""
        with socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.host, self.port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    return  # gunicorn says what else is wrong with the address
                raise SettingsError(
                    f"PORT {self.port} is already in use on {self.host}: stop what listens there, or choose another "
                    f"port, e.g. PORT={self.port + 1} make run (ROOT_URL follows PORT when it is unset)."
                ) from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        return cls(**read_env(os.environ if environ is None else environ, _SERVER_ENV))


def local_root_url(port: int) -> str:
    return f"http://localhost:{port}"


def read_env(env: Mapping[str, str], table: Mapping[str, tuple[str, Parse]]) -> dict[str, Any]:
    """{field: value} for each variable of `table` ({field: (VARIABLE, parse)}) that is set and not empty."""
    return {field: parse(name, text) for field, (name, parse) in table.items() if (text := env.get(name, "").strip())}


def _text(name: str, text: str) -> str:
    return text


def _whole_number(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {text!r}.") from None


def _seconds(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, not {text!r}.") from None


def _boolean(name: str, text: str) -> bool:
    if text.lower() in _TRUE + _FALSE:
        return text.lower() in _TRUE
    raise SettingsError(f"{name} must be true or false, not {text.lower()!r}.")


def _words(name: str, text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _comma_list(name: str, text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


Parse = Callable[[str, str], Any]
# Each setting's variable and how its text is read; its default is the field's, in the dataclass above.
_SETTINGS_ENV: dict[str, tuple[str, Parse]] = {
    "root_url": ("ROOT_URL", _text),
    "mattermost_site_url": ("MATTERMOST_SITE_URL", _text),
    "oauth2_authorize_url": ("OAUTH2_AUTHORIZE_URL", _text),
    "oauth2_token_url": ("OAUTH2_TOKEN_URL", _text),
    "oauth2_revoke_url": ("OAUTH2_REVOKE_URL", _text),
    "oauth2_userinfo_url": ("OAUTH2_USERINFO_URL", _text),
    "oauth2_issuer": ("OAUTH2_ISSUER", _text),
    "oauth2_rotates_refresh_tokens": ("OAUTH2_ROTATES_REFRESH_TOKENS", _boolean),
    "oauth2_scopes": ("OAUTH2_SCOPES", _words),
    "google_api_url": ("GOOGLE_API_URL", _text),
    "token_encryption_keys": ("TOKEN_ENCRYPTION_KEY", _comma_list),
    "http_timeout": ("HTTP_TIMEOUT", _seconds),
    "call_deadline": ("CALL_DEADLINE", _seconds),
    "redis_url": ("REDIS_URL", _text),
    "log_level": ("LOG_LEVEL", lambda name, text: text.upper()),
    "log_format": ("LOG_FORMAT", lambda name, text: text.lower()),
}
_SERVER_ENV: dict[str, tuple[str, Parse]] = {
    "host": ("HOST", _text),
    "port": ("PORT", _whole_number),
    "workers": ("WEB_CONCURRENCY", _whole_number),
    "worker_connections": ("GUNICORN_WORKER_CONNECTIONS", _whole_number),
}


def load_or_create_app_secret(path: Path) -> str:
    """Read the JWT secret from `path`, or create it there on first start.

    The admin pastes it into the install dialog's "Outgoing JWT Secret"; we say once where it is,
    never what it is.
    """
    try:
        secret: str | None = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        secret = None
    except OSError as exc:
        raise SettingsError(f"APP_SECRET is not set and APP_SECRET_FILE {path} cannot be read ({exc.strerror}).") from None
    if secret:
        return secret
    if secret == "":
        # Never overwrite it: workers that already read it would disagree with the ones that read the new one.
        raise SettingsError(
            f"APP_SECRET is not set and {path} is empty: delete that file to generate a new secret, or set APP_SECRET."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Several gunicorn workers start at once: write a private temp file, then hard-link it into place,
        # which fails if another worker won the race; everyone then reads the one file that exists.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise SettingsError(f"APP_SECRET is not set and APP_SECRET_FILE {path} cannot be created ({exc.strerror}).") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secrets.token_urlsafe(32) + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    finally:
        tmp.unlink(missing_ok=True)
    secret = path.read_text(encoding="utf-8").strip()
    log.warning(
        "APP_SECRET is not set: generated one and saved it in %s. Paste that file's content into the "
        '"Outgoing JWT Secret" field of the /apps install dialog.',
        path,
    )
    return secret


def log_config(level: str, log_format: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the app and for gunicorn (its `logconfig_dict`): one format for every line.

    urllib3, requests-oauthlib and oauthlib never log below INFO: at DEBUG they print URLs and token answers.
    """
    libraries = max(logging.INFO, logging.getLevelNamesMapping()[level])
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"()": JSONFormatter if log_format == "json" else TextFormatter, "fmt": TEXT_FORMAT}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            **{name: {"level": libraries} for name in ("urllib3", "requests_oauthlib", "oauthlib")},
            # gunicorn's own loggers, with our handler instead of theirs. No access log: the app logs what matters,
            # and a line per request is noise (gunicorn turns it on whenever logconfig_dict is set).
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }


def log_config_from_env() -> dict[str, Any]:
    """`log_config` from LOG_LEVEL and LOG_FORMAT before the settings are checked (their defaults if unusable)."""
    level = os.environ.get("LOG_LEVEL", "").strip().upper()
    log_format = os.environ.get("LOG_FORMAT", "").strip().lower()
    return log_config(level if level in _LOG_LEVELS else "INFO", log_format if log_format in _LOG_FORMATS else "text")


TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: what could end a log line or forge one.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(message: str) -> str:
    """`message` with every control character written as an escape (`\\n`, `\\x00`): one log line stays one line,
    whatever caller-controlled text it quotes."""
    return _CONTROL.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), message)


class TextFormatter(logging.Formatter):
    """The text format, with the message's control characters escaped (a traceback after it keeps its lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


class JSONFormatter(logging.Formatter):
    """One JSON object a line, with the fields of the text format: time, level, pid, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "pid": record.process,
            "logger": record.name,
            "message": escape_controls(record.getMessage()),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def _require_http_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name} must be an absolute http(s) URL with a host, not {value!r}.")
