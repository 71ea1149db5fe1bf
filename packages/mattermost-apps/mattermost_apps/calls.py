"""CallRequest parsing and CallResponse builders for the Mattermost Apps framework (plugin v1.2.2).

A CallRequest is untrusted JSON: every accessor checks the type it returns, and a request whose
shape is wrong raises `BadCallRequest` with a reason code (the app words it for the user).

A request carries no call type: a command, a form's submit, its source, a refresh and a lookup all come as a POST
to their call's path, so the app tells a lookup from a submit only by the path it gave each call.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .forms import Form, Option

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


def error(text: str, field_errors: Mapping[str, str] | None = None) -> CallResponse:
    """An error. In a modal, `text` shows above the buttons and each of `field_errors` (field name: sentence) under
    its field, both as Markdown; a command shows `text` only. An error with neither closes the modal silently."""
    if not text and not field_errors:
        raise ValueError("An error response needs a text or a field error: without either the modal just closes.")
    response: CallResponse = {"type": "error", "text": text}
    if field_errors:
        response["data"] = {"errors": dict(field_errors)}
    return response


def form(form_: Form | dict[str, JSON]) -> CallResponse:
    """Open `form_` as a modal (or replace the open one). The web client refuses a form without a submit call."""
    as_json = form_.to_json() if isinstance(form_, Form) else form_
    if not as_json.get("submit"):
        raise ValueError("A form response needs a submit call: the web client refuses it without one.")
    return {"type": "form", "form": as_json}


def lookup(items: Iterable[Option | str]) -> CallResponse:
    """The answer to a dynamic select's lookup call: the items to offer (a string is its own label).

    The client shows no item whose value is blank, so none is sent, and it does not filter: filter by
    `call.query` (what the user typed so far) yourself. A command line inserts the picked item's value."""
    options = [Option(item, item) if isinstance(item, str) else item for item in items]
    return ok(data={"items": [option.to_json() for option in options if option.value.strip()]})


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
    """One call from the plugin. Every key may be missing, and a missing key reads as empty (`""`, `{}`).

    `raw_command` is the command line as typed (commands only). `selected_field` and `query` come with a lookup (the
    field typed in, and what was typed so far) and `selected_field` with a refresh (the field that changed). Nothing
    says which kind of call this is: the path does.
    """

    path: str
    expand: dict[str, JSON]
    state: JSON
    values: dict[str, JSON]
    context: Context
    raw_command: str
    selected_field: str  # a lookup: the field being typed in; a refresh: the field that changed
    query: str  # a lookup: what the user typed so far ("" when nothing yet)

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
            selected_field=_optional_str(obj, "selected_field", ""),
            query=_optional_str(obj, "query", ""),
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

    # Values arrive in every shape the clients send: a string (text; a submit_buttons field), a bool, a number
    # (a `number` text field in a modal), an option object `{"label", "value"}` (selects, users, channels; also
    # text typed for a select on a command line, as `{"label": text, "value": text}`), a list of option objects
    # (multiselect; always `[]` for a dynamic multiselect typed on a command line), or null (a field left empty).

    def value(self, name: str) -> str:
        """The value of field `name` as a trimmed string: an option's value, "true"/"false", a number's digits.
        "" when the field is absent or empty."""
        raw = self.values.get(name)
        if isinstance(raw, dict):
            raw = self._option(name, raw)[1]
        if raw is None:
            return ""
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if isinstance(raw, str):
            return _text(raw, "values." + name).strip()
        if isinstance(raw, int | float):
            return str(raw)
        raise BadCallRequest("bad_value", field=name)

    def option(self, name: str) -> tuple[str, str] | None:
        """The picked option of select `name` as (label, value); a plain string is both. None when nothing is picked."""
        raw = self.values.get(name)
        if isinstance(raw, str):
            text = _text(raw, "values." + name).strip()
            return (text, text) if text else None
        if raw is None:
            return None
        if isinstance(raw, dict):
            return self._option(name, raw)
        raise BadCallRequest("bad_value", field=name)

    def values_of(self, name: str) -> list[str]:
        """The values picked in multiselect `name` (a single option or string counts as one); [] when none."""
        raw = self.values.get(name)
        items = raw if isinstance(raw, list) else [] if raw is None else [raw]
        picked = []
        for item in items:
            value = self._option(name, item)[1] if isinstance(item, dict) else item
            if not isinstance(value, str):
                raise BadCallRequest("bad_value", field=name)
            if value.strip():
                picked.append(_text(value, "values." + name).strip())
        return picked

    def bool_value(self, name: str) -> bool:
        """Bool field `name`: a JSON bool, "true"/"false", or an option holding either; False when absent."""
        raw = self.values.get(name)
        if isinstance(raw, dict):
            raw = raw.get("value")
        if raw is None or isinstance(raw, bool):
            return bool(raw)
        if raw in ("true", "false"):
            return raw == "true"
        raise BadCallRequest("bad_value", field=name)

    def _option(self, name: str, raw: dict[str, JSON]) -> tuple[str, str]:
        label, value = raw.get("label", ""), raw.get("value")
        if not (isinstance(label, str) and isinstance(value, str)):
            raise BadCallRequest("bad_value", field=name)
        return _text(label, "values." + name), _text(value, "values." + name).strip()
