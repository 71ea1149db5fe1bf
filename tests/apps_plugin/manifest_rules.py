"""The Apps plugin's manifest validation (v1.2.2, protocol §1.2): one error string per broken rule."""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import unquote, urlparse

MIN_APP_ID_LENGTH = 3
MAX_APP_ID_LENGTH = 32
MAX_VERSION_LENGTH = len("v00_00_000")
MAX_MANIFEST_SIZE = 1024 * 1024
DEPLOY_TYPES = ("http", "aws_lambda", "open_faas", "plugin")

# permission -> the permission it needs (apps/permissions.go)
PERMISSION_DEPENDENCIES = {
    "remote_oauth2": "act_as_user",
    "remote_webhooks": "act_as_bot",
    "user_joined_channel_notification": "act_as_bot",
}


def is_valid_url(value: Any) -> bool:
    """`httputils.IsValidURL`: parses as a request URI, scheme http or https, non-empty host."""
    if not isinstance(value, str) or not value:
        return False
    try:
        parsed = urlparse(value)
    except ValueError:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.netloc) and bool(parsed.hostname)


def _id_chars_ok(value: str) -> bool:
    # unicode.IsLetter / unicode.IsNumber, so non-ASCII letters pass too
    return all(ch.isalpha() or ch.isdigit() or ch in "-_." for ch in value)


def clean_static_path(name: str) -> str | None:
    """`utils.CleanStaticURL`: unescape until stable, path.Clean; None when it escapes the static folder."""
    previous = None
    while previous != name:
        previous, name = name, unquote(name)
    cleaned = posixpath.normpath(name) if name else "."
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if cleaned.startswith("/"):
        cleaned = "." + cleaned
    if cleaned in (".", "..") or cleaned.startswith("../"):
        return None
    return cleaned


def validate_app_id(app_id: Any) -> list[str]:
    if not isinstance(app_id, str) or not app_id:
        return ["app_id: must not be empty"]
    errors = []
    size = len(app_id.encode())
    if size < MIN_APP_ID_LENGTH or size > MAX_APP_ID_LENGTH:
        errors.append(f"app_id: {app_id!r} must be {MIN_APP_ID_LENGTH} to {MAX_APP_ID_LENGTH} bytes long")
    if not _id_chars_ok(app_id):
        errors.append(f"app_id: {app_id!r} may contain only letters, digits, '-', '_' and '.'")
    return errors


def validate_version(version: Any) -> list[str]:
    if version in (None, ""):
        return []
    if not isinstance(version, str):
        return ["version: must be a string"]
    errors = []
    if len(version) > MAX_VERSION_LENGTH:
        errors.append(f"version: {version!r} is longer than {MAX_VERSION_LENGTH} characters")
    if not _id_chars_ok(version):
        errors.append(f"version: {version!r} may contain only letters, digits, '-', '_' and '.'")
    return errors


def validate_manifest(manifest: dict[str, Any]) -> list[str]:
    if not isinstance(manifest, dict):
        return ["manifest: must be a JSON object"]
    errors: list[str] = []
    errors += validate_app_id(manifest.get("app_id"))
    errors += validate_version(manifest.get("version"))

    display_name = manifest.get("display_name")
    if not isinstance(display_name, str) or not display_name:
        errors.append("display_name: must not be empty")

    homepage_url = manifest.get("homepage_url")
    if homepage_url in (None, ""):
        errors.append("homepage_url: must not be empty")
    elif not is_valid_url(homepage_url):
        errors.append(f"homepage_url: {homepage_url!r} is not a valid http(s) URL")

    icon = manifest.get("icon")
    if icon not in (None, "") and (not isinstance(icon, str) or clean_static_path(icon) is None):
        errors.append(f"icon: {icon!r} is not a valid path inside the static folder")

    deploys = [name for name in DEPLOY_TYPES if manifest.get(name) is not None]
    if not deploys:
        errors.append("deploy: at least one of http, aws_lambda, open_faas or plugin is required")
    http = manifest.get("http")
    if http is not None:
        root_url = http.get("root_url") if isinstance(http, dict) else None
        if root_url in (None, ""):
            errors.append("http.root_url: must not be empty")
        elif not is_valid_url(root_url):
            errors.append(f"http.root_url: {root_url!r} is not a valid http(s) URL")

    permissions = manifest.get("requested_permissions") or []
    if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
        errors.append("requested_permissions: must be a list of strings")
    else:
        for permission, needed in PERMISSION_DEPENDENCIES.items():
            if permission in permissions and needed not in permissions:
                errors.append(f"requested_permissions: {permission} requires {needed}")
    return errors
