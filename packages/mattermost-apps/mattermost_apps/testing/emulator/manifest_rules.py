"""The Apps plugin's manifest validation at v1.2.2, one Go error text per broken rule.

`apps/manifest.go` (`Manifest.Validate`, `AppID.Validate`, `AppVersion.Validate`), `apps/deploy*.go`,
`apps/permissions.go`, `utils/path.go` (`CleanStaticURL`) and `utils/httputils/url.go` (`IsValidURL`) in
mattermost/mattermost-plugin-apps. Lengths are Go's `len()`: bytes, not characters.
"""

from __future__ import annotations

import json
from typing import Any

from . import golang

MIN_APP_ID_LENGTH = 3
MAX_APP_ID_LENGTH = 32
VERSION_FORMAT = "v00_00_000"
MAX_VERSION_LENGTH = len(VERSION_FORMAT)
MAX_MANIFEST_SIZE = 1024 * 1024
DEPLOY_TYPES = ("http", "aws_lambda", "open_faas", "plugin")
INVALID = ": invalid input"

# (permission, what it needs), in the order `Permissions.Validate` checks them
PERMISSION_DEPENDENCIES = (
    ("remote_webhooks", "act_as_bot"),
    ("remote_oauth2", "act_as_user"),
    ("user_joined_channel_notification", "act_as_bot"),
)
# `Permission.String()`: what `%s` prints for a permission in the dependency error
PERMISSION_TEXT = {
    "user_joined_channel_notification": "be notified when users join channels",
    "act_as_user": "use Mattermost REST API as connected users",
    "act_as_bot": "use Mattermost REST API as the app's bot user",
    "remote_oauth2": "use a remote (3rd party) OAuth2 and store secrets",
    "remote_webhooks": "receive webhook messages from a remote (3rd party) system",
}


class InvalidInput(ValueError):
    """A `utils.NewInvalidError`: str() ends in ": invalid input"."""


def url_problem(value: str) -> str | None:
    """`httputils.IsValidURL`: None, or Go's reason the URL is refused."""
    try:
        parsed = golang.parse_url(value, request_uri=True)
    except golang.URLError as exc:
        return str(exc)
    if parsed.scheme not in ("http", "https"):
        return 'URL schema must either be "http" or "https"'
    if not parsed.host:
        return "URL must contain a host"
    return None


def is_valid_url(value: Any) -> bool:
    return isinstance(value, str) and url_problem(value) is None


def clean_url_path(got: str) -> str:
    """`cleanURLPath`: unescape until stable, then `CleanPath` (no ".", no escape above the root)."""
    if not got:
        raise InvalidInput("empty path" + INVALID)
    unescaped = got
    while True:
        again = golang.unescape_path(unescaped)
        if again == unescaped:
            break
        unescaped = again
    cleaned = golang.clean_path(unescaped)
    if cleaned == "." or cleaned.startswith("../"):
        raise InvalidInput(f"bad path: {golang.quote(unescaped)}" + INVALID)
    return cleaned


def clean_static_url(got: str) -> str:
    """`utils.CleanStaticURL`: the path cleaned, a leading `/` made `./`; raises with Go's text."""
    url = golang.parse_url(got)
    url.path = clean_url_path(url.path)
    if not url.scheme and url.path.startswith("/"):
        url.path = "." + url.path
    return url.string()


def clean_static_path(name: str) -> str | None:
    """`clean_static_url`, or None where the plugin refuses the path."""
    try:
        return clean_static_url(name)
    except (InvalidInput, golang.URLError):
        return None


def _id_problems(value: str, where: str) -> list[str]:
    # unicode.IsLetter / unicode.IsNumber, so non-ASCII letters pass too
    return [f"invalid character '{ch}' in {where}" + INVALID for ch in value if not (ch.isalpha() or ch.isdigit() or ch in "-_.")]


def validate_app_id(app_id: Any) -> list[str]:
    app_id = app_id if isinstance(app_id, str) else ""
    problems = []
    size = len(app_id.encode())
    if size < MIN_APP_ID_LENGTH:
        problems.append(f"appID {app_id} too short, should be {MIN_APP_ID_LENGTH} bytes" + INVALID)
    if size > MAX_APP_ID_LENGTH:
        problems.append(f"appID {app_id} too long, should be {MAX_APP_ID_LENGTH} bytes" + INVALID)
    return problems + _id_problems(app_id, f"appID {golang.quote(app_id)}")


def validate_version(version: Any) -> list[str]:
    version = version if isinstance(version, str) else ""
    problems = []
    if len(version.encode()) > MAX_VERSION_LENGTH:
        problems.append(f"version {version} too long, should be in {VERSION_FORMAT} format" + INVALID)
    return problems + _id_problems(version, "appVersion")


def validate_permissions(permissions: list[str]) -> list[str]:
    for permission, needed in PERMISSION_DEPENDENCIES:
        if permission in permissions and needed not in permissions:
            listed = ", ".join(PERMISSION_TEXT.get(p, "unknown permission: " + p) for p in permissions)
            return [f"{listed} requires {PERMISSION_TEXT[needed]}" + INVALID]
    return []


def _functions(section: Any) -> list[dict[str, Any]]:
    functions = section.get("functions") if isinstance(section, dict) else None
    return [f if isinstance(f, dict) else {} for f in functions] if isinstance(functions, list) else []


def validate_deploy(manifest: dict[str, Any]) -> list[str]:
    """`Deploy.Validate`: at least one section, then each present section's own rules."""
    problems = []
    if all(manifest.get(name) is None for name in DEPLOY_TYPES):
        problems.append("manifest has no deployment information (http, aws_lambda, open_faas, etc.)" + INVALID)
    if manifest.get("aws_lambda") is not None:
        functions = _functions(manifest["aws_lambda"])
        if not functions:
            problems.append("must provide at least 1 function in aws_lambda.Functions" + INVALID)
        for function in functions:
            missing = [
                f"aws_lambda {key} must not be empty" + INVALID
                for key in ("path", "name", "handler", "runtime")
                if not function.get(key)
            ]
            if missing:
                problems.append(f"{golang.quote(str(function.get('name') or ''))} is not valid: {golang.multierror(missing)}")
    http = manifest.get("http")
    if http is not None:
        root_url = http.get("root_url") if isinstance(http, dict) else None
        if not root_url:
            problems.append("root_url must be set for HTTP apps" + INVALID)
        elif (why := url_problem(str(root_url))) is not None:
            problems.append(f"invalid root_url: {golang.quote(str(root_url))}: {why}" + INVALID)
    if manifest.get("open_faas") is not None:
        functions = _functions(manifest["open_faas"])
        if not functions:
            problems.append("must provide at least 1 function" + INVALID)
        empty = [(f, key) for f in functions for key in ("path", "name") if not f.get(key)]
        if empty:  # the first one only: `OpenFAAS.Validate` returns on it
            function, key = empty[0]
            name = golang.quote(str(function.get("name") or ""))
            problems.append(f"invalid function {name}: invalid OpenFaaS function: {key} must not be empty" + INVALID)
    plugin = manifest.get("plugin")
    if plugin is not None and not (isinstance(plugin, dict) and plugin.get("plugin_id")):
        problems.append("plugin_id must be set for plugin apps" + INVALID)
    return problems


def validate_manifest(manifest: Any) -> list[str]:
    """`Manifest.Validate`: every broken rule, in Go's order and words (empty when the manifest is valid)."""
    if not isinstance(manifest, dict):
        return ["json: cannot unmarshal " + golang.go_json_type(manifest) + " into Go value of type apps.Manifest"]
    problems: list[str] = []
    display_name = manifest.get("display_name")
    if not display_name:
        problems.append("display_name is empty" + INVALID)
    raw_homepage_url = manifest.get("homepage_url")
    homepage_url = raw_homepage_url if isinstance(raw_homepage_url, str) else ""
    if not homepage_url:
        problems.append("homepage_url is empty" + INVALID)
    if (why := url_problem(homepage_url)) is not None:
        problems.append(f"homepage_url {golang.quote(homepage_url)} invalid: {why}" + INVALID)
    icon = manifest.get("icon")
    if isinstance(icon, str) and icon:
        try:
            clean_static_url(icon)
        except (InvalidInput, golang.URLError) as exc:
            problems.append(str(exc))
    problems += validate_app_id(manifest.get("app_id"))
    problems += validate_version(manifest.get("version"))
    permissions = manifest.get("requested_permissions") or []
    problems += validate_permissions([p for p in permissions if isinstance(p, str)] if isinstance(permissions, list) else [])
    problems += validate_deploy(manifest)
    return problems


# Manifest keys Go decodes as strings: a JSON value of another type fails the whole decode.
_STRING_KEYS = {
    "app_id": "apps.AppID",
    "version": "apps.AppVersion",
    "homepage_url": "string",
    "display_name": "string",
    "description": "string",
    "icon": "string",
    "remote_webhook_auth_type": "apps.RemoteWebhookAuthType",
}


def decode_manifest(body: bytes) -> dict[str, Any]:
    """`apps.DecodeCompatibleManifest`: Go's JSON decode, then `Validate`; raises ValueError with the plugin's text."""
    problem = golang.json_syntax_error(body)
    if problem is not None:
        raise ValueError(problem)
    manifest = json.loads(body)
    if not isinstance(manifest, dict):
        if manifest is None:
            raise ValueError(golang.multierror(validate_manifest({})))
        raise ValueError(f"json: cannot unmarshal {golang.go_json_type(manifest)} into Go value of type apps.Manifest")
    for key, go_type in _STRING_KEYS.items():
        value = manifest.get(key)
        if value is not None and not isinstance(value, str):
            kind = golang.go_json_type(value)
            raise ValueError(f"json: cannot unmarshal {kind} into Go struct field Manifest.{key} of type {go_type}")
    problems = validate_manifest(manifest)
    if problems:
        raise ValueError(golang.multierror(problems))
    return manifest
