"""CallRequest parsing and CallResponse builders for the Mattermost Apps framework (plugin v1.2.2).

A CallRequest is untrusted JSON: every accessor checks the type it returns, and a request whose
shape is wrong raises `BadCallRequest` with a reason code (the app words it for the user).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

JSON = Any
CallResponse = dict[str, JSON]


class BadCallRequest(ValueError):
    """The request is not a CallRequest the app can act on.

    `reason`: `empty_body`, `not_json`, `not_an_object` (the body), `wrong_type` (`field` is not `expected`,
    "string" or "object"), `bad_expand_level` (`field` names the expand key), `bad_value` (the value `field`),
    `bad_text` (`field` holds a lone surrogate, which JSON can escape but no UTF-8 text can hold).
    """

    def __init__(self, reason: str, *, field: str = "", expected: str = "") -> None:
        self.reason = reason
        self.field = field
        self.expected = expected
        super().__init__(f"{reason}: {field} {expected}".strip(": "))


def ok(text: str | None = None, *, data: JSON = None, refresh_bindings: bool = False) -> CallResponse:
    response: CallResponse = {"type": "ok"}
    if text is not None:
        response["text"] = text
    if data is not None:
        response["data"] = data
    if refresh_bindings:
        response["refresh_bindings"] = True
    return response


def error(text: str) -> CallResponse:
    return {"type": "error", "text": text}


def form(form_: dict[str, JSON]) -> CallResponse:
    return {"type": "form", "form": form_}


def navigate(url: str, *, use_external_browser: bool = False) -> CallResponse:
    response: CallResponse = {"type": "navigate", "navigate_to_url": url}
    if use_external_browser:
        response["use_external_browser"] = True
    return response


def _optional_str(obj: dict[str, JSON], key: str, where: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadCallRequest("wrong_type", field=where + key, expected="string")
    return _text(value, where + key)


def _text(value: str, field: str) -> str:
    """`value`, if it is text: a lone surrogate would fail later, in whatever encodes it (a URL, a header, a log)."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadCallRequest("bad_text", field=field) from None
    return value


def _optional_dict(obj: dict[str, JSON], key: str, where: str) -> dict[str, JSON]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadCallRequest("wrong_type", field=where + key, expected="object")
    return value


@dataclass(frozen=True)
class OAuth2Context:
    """`context.oauth2`: the app's stored OAuth2 client (expand `oauth2_app: all`) and the acting
    user's stored record (expand `oauth2_user: all`; absent when nothing or `null` is stored)."""

    client_id: str
    client_secret: str
    remote_root_url: str
    data: JSON
    connect_url: str
    complete_url: str
    user: JSON
    has_user: bool

    @classmethod
    def parse(cls, obj: dict[str, JSON]) -> OAuth2Context:
        where = "context.oauth2."
        return cls(
            client_id=_optional_str(obj, "client_id", where),
            client_secret=_optional_str(obj, "client_secret", where),
            remote_root_url=_optional_str(obj, "remote_root_url", where),
            data=obj.get("data"),
            connect_url=_optional_str(obj, "connect_url", where),
            complete_url=_optional_str(obj, "complete_url", where),
            user=obj.get("user"),
            has_user=obj.get("user") is not None,
        )

    @property
    def is_configured(self) -> bool:
        return bool(self.client_id and self.client_secret)


@dataclass(frozen=True)
class Context:
    mattermost_site_url: str
    app_path: str
    bot_user_id: str
    bot_access_token: str
    acting_user: dict[str, JSON] | None
    acting_user_access_token: str
    oauth2: OAuth2Context
    locale: str
    acting_user_id: str  # `acting_user.id`, "" without an acting user

    @classmethod
    def parse(cls, obj: dict[str, JSON]) -> Context:
        where = "context."
        acting_user = obj.get("acting_user")
        acting_user_id = ""
        if acting_user is not None:
            if not isinstance(acting_user, dict):
                raise BadCallRequest("wrong_type", field="context.acting_user", expected="object")
            acting_user_id = _optional_str(acting_user, "id", "context.acting_user.")
            _optional_str(acting_user, "roles", "context.acting_user.")
            _optional_str(acting_user, "username", "context.acting_user.")
        return cls(
            mattermost_site_url=_optional_str(obj, "mattermost_site_url", where),
            app_path=_optional_str(obj, "app_path", where),
            bot_user_id=_optional_str(obj, "bot_user_id", where),
            bot_access_token=_optional_str(obj, "bot_access_token", where),
            acting_user=acting_user,
            acting_user_access_token=_optional_str(obj, "acting_user_access_token", where),
            oauth2=OAuth2Context.parse(_optional_dict(obj, "oauth2", where)),
            locale=_optional_str(obj, "locale", where),
            acting_user_id=acting_user_id,
        )

    @property
    def is_system_admin(self) -> bool:
        """Mattermost keeps roles as one space-separated string, e.g. "system_user system_admin"."""
        roles = (self.acting_user or {}).get("roles") or ""
        return "system_admin" in roles.split()

    @property
    def acting_user_timezone(self) -> str | None:
        """The user's IANA time zone from `acting_user.timezone` (summary level), if any."""
        tz = (self.acting_user or {}).get("timezone")
        if not isinstance(tz, dict):
            return None
        automatic = tz.get("useAutomaticTimezone") in ("true", True)
        name = tz.get("automaticTimezone") if automatic else tz.get("manualTimezone")
        return name if isinstance(name, str) and name else None


@dataclass(frozen=True)
class CallRequest:
    path: str
    expand: dict[str, JSON]
    state: JSON
    values: dict[str, JSON]
    context: Context
    raw_command: str

    @classmethod
    def parse(cls, obj: JSON) -> CallRequest:
        if not isinstance(obj, dict):
            raise BadCallRequest("not_an_object")
        expand = _optional_dict(obj, "expand", "")
        for key, level in expand.items():
            if not isinstance(level, str):
                raise BadCallRequest("bad_expand_level", field=key)
        return cls(
            path=_optional_str(obj, "path", ""),
            expand=expand,
            state=obj.get("state"),
            values=_optional_dict(obj, "values", ""),
            context=Context.parse(_optional_dict(obj, "context", "")),
            raw_command=_optional_str(obj, "raw_command", ""),
        )

    @classmethod
    def from_bytes(cls, body: bytes) -> CallRequest:
        try:
            obj = json.loads(body) if body else None
        except (ValueError, RecursionError):  # bad UTF-8, bad JSON, or an integer too long to parse
            raise BadCallRequest("not_json") from None
        if obj is None:
            raise BadCallRequest("empty_body")
        return cls.parse(obj)

    def value(self, name: str) -> str:
        """A form or command value as a trimmed string.

        Clients send text as a string, booleans as booleans and select options as
        `{"label", "value"}` objects; anything else is a bad request.
        """
        raw = self.values.get(name)
        if raw is None:
            return ""
        if isinstance(raw, dict):
            raw = raw.get("value")
            if raw is None:
                return ""
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if isinstance(raw, str):
            return _text(raw, "values." + name).strip()
        if isinstance(raw, int | float):
            return str(raw)
        raise BadCallRequest("bad_value", field=name)
