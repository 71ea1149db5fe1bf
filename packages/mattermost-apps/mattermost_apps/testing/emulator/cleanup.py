"""What the plugin does to the bindings and forms an app returns, at v1.2.2.

The JSON goes through Go structs first (`apps/binding.go`, `apps/form.go`, `apps/field.go`, `apps/call.go`,
`apps/expand.go`): unknown keys vanish, zero values of `omitempty` fields vanish, `"type"` and an option's
`"value"` always stay. Then `cleanAppBindings`/`cleanAppBinding` (`server/proxy/invoke_bindings.go`),
`cleanForm`/`cleanStaticSelect` (`server/proxy/form.go`) and `normalizeStaticPath`
(`server/proxy/invoke_static.go`) apply, collecting the "problems" Go reports (`?test=1`, and the Go tests'
expected texts); `mergeBindings` and `SortTopBindings` (`server/proxy/bindings.go`) shape `GET /bindings`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from mattermost_apps.testing import EXPAND_KEYS

from . import golang
from .manifest_rules import InvalidInput, clean_static_url

Struct = dict[str, Any]

COMMAND = "/command"
CHANNEL_HEADER = "/channel_header"
POST_MENU = "/post_menu"
TOP_LOCATIONS = (CHANNEL_HEADER, COMMAND, POST_MENU)  # `Location.IsTop`; /in_post is not one


class DecodeError(ValueError):
    """encoding/json refused the app's JSON for the Go struct; str() is close to Go's text."""


# -- JSON <-> Go structs ------------------------------------------------------------------------------------


def _string(obj: dict[str, Any], key: str, struct: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DecodeError(
            f"json: cannot unmarshal {golang.go_json_type(value)} into Go struct field {struct}.{key} of type string"
        )
    return value


def _bool(obj: dict[str, Any], key: str, struct: str) -> bool:
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise DecodeError(f"json: cannot unmarshal {golang.go_json_type(value)} into Go struct field {struct}.{key} of type bool")
    return value


def _int(obj: dict[str, Any], key: str, struct: str) -> int:
    value = obj.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        shown = golang.go_json_type(value) + (f" {value}" if isinstance(value, float) else "")
        raise DecodeError(f"json: cannot unmarshal {shown} into Go struct field {struct}.{key} of type int")
    return int(value)


def _object(value: Any, struct: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DecodeError(f"json: cannot unmarshal {golang.go_json_type(value)} into Go value of type {struct}")
    return value


def decode_expand(value: Any) -> Struct | None:
    if value is None:
        return None
    obj = _object(value, "apps.Expand")
    return {key: _string(obj, key, "Expand") for key in EXPAND_KEYS}


def encode_expand(expand: Struct) -> dict[str, str]:
    return {key: expand[key] for key in EXPAND_KEYS if expand.get(key)}


def decode_call(value: Any) -> Struct | None:
    """`Call.UnmarshalJSON`: a string is the path; null is no call."""
    if value is None:
        return None
    if isinstance(value, str):
        return {"path": value, "expand": None, "state": None}
    obj = _object(value, "struct { Path string; Expand *apps.Expand; State interface {} }")
    return {"path": _string(obj, "path", "Call"), "expand": decode_expand(obj.get("expand")), "state": obj.get("state")}


def encode_call(call: Struct) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if call["path"]:
        out["path"] = call["path"]
    if call["expand"] is not None:
        out["expand"] = encode_expand(call["expand"])
    if call["state"] is not None:
        out["state"] = call["state"]
    return out


def decode_option(value: Any) -> Struct:
    obj = _object(value, "apps.SelectOption")
    return {
        "label": _string(obj, "label", "SelectOption"),
        "value": _string(obj, "value", "SelectOption"),
        "icon_data": _string(obj, "icon_data", "SelectOption"),
    }


def encode_option(option: Struct) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if option["label"]:
        out["label"] = option["label"]
    out["value"] = option["value"]
    if option["icon_data"]:
        out["icon_data"] = option["icon_data"]
    return out


_FIELD_STRINGS = ("name", "type", "description", "label", "hint", "modal_label", "subtype")
_FIELD_ORDER = (
    "name",
    "type",
    "is_required",
    "readonly",
    "value",
    "description",
    "label",
    "hint",
    "position",
    "modal_label",
    "multiselect",
    "refresh",
    "options",
    "lookup",
    "subtype",
    "min_length",
    "max_length",
)


def decode_field(value: Any) -> Struct:
    obj = _object(value, "apps.Field")
    field: Struct = {key: _string(obj, key, "Field") for key in _FIELD_STRINGS}
    for key in ("is_required", "readonly", "multiselect", "refresh"):
        field[key] = _bool(obj, key, "Field")
    for key in ("position", "min_length", "max_length"):
        field[key] = _int(obj, key, "Field")
    field["value"] = obj.get("value")
    options = obj.get("options")
    if options is not None and not isinstance(options, list):
        raise DecodeError(f"json: cannot unmarshal {golang.go_json_type(options)} into Go struct field Field.options")
    field["options"] = [decode_option(o) for o in options or []]
    field["lookup"] = decode_call(obj.get("lookup"))
    return field


def encode_field(field: Struct) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _FIELD_ORDER:
        value = field[key]
        if key in ("name", "type"):
            out[key] = value  # no omitempty
        elif key == "options":
            if value:
                out[key] = [encode_option(o) for o in value]
        elif key == "lookup":
            if value is not None:
                out[key] = encode_call(value)
        elif key == "value":
            if value is not None:
                out[key] = value
        elif value:
            out[key] = value
    return out


_FORM_STRINGS = ("title", "header", "footer", "icon", "submit_buttons")


def decode_form(value: Any) -> Struct | None:
    """`Form.UnmarshalJSON`: a string is a source path."""
    if value is None:
        return None
    if isinstance(value, str):
        form: Struct = {key: "" for key in _FORM_STRINGS}
        form.update(source={"path": value, "expand": None, "state": None}, submit=None, fields=[])
        return form
    obj = _object(value, "apps.Form")
    form = {key: _string(obj, key, "Form") for key in _FORM_STRINGS}
    fields = obj.get("fields")
    if fields is not None and not isinstance(fields, list):
        raise DecodeError(f"json: cannot unmarshal {golang.go_json_type(fields)} into Go struct field Form.fields")
    form.update(source=decode_call(obj.get("source")), submit=decode_call(obj.get("submit")))
    form["fields"] = [decode_field(f) for f in fields or []]
    return form


def encode_form(form: Struct) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if form["source"] is not None:
        out["source"] = encode_call(form["source"])
    for key in ("title", "header", "footer", "icon"):
        if form[key]:
            out[key] = form[key]
    if form["submit"] is not None:
        out["submit"] = encode_call(form["submit"])
    if form["submit_buttons"]:
        out["submit_buttons"] = form["submit_buttons"]
    if form["fields"]:
        out["fields"] = [encode_field(f) for f in form["fields"]]
    return out


_BINDING_STRINGS = ("app_id", "location", "icon", "label", "hint", "description")


def decode_binding(value: Any) -> Struct:
    obj = _object(value, "apps.Binding")
    binding: Struct = {key: _string(obj, key, "Binding") for key in _BINDING_STRINGS}
    binding["submit"] = decode_call(obj.get("submit"))
    binding["form"] = decode_form(obj.get("form"))
    binding["bindings"] = decode_bindings(obj.get("bindings"))
    return binding


def decode_bindings(value: Any) -> list[Struct]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DecodeError(f"json: cannot unmarshal {golang.go_json_type(value)} into Go value of type []apps.Binding")
    return [decode_binding(b) for b in value]


def encode_binding(binding: Struct) -> dict[str, Any]:
    out: dict[str, Any] = {key: binding[key] for key in _BINDING_STRINGS if binding[key]}
    if binding["submit"] is not None:
        out["submit"] = encode_call(binding["submit"])
    if binding["form"] is not None:
        out["form"] = encode_form(binding["form"])
    if binding["bindings"]:
        out["bindings"] = [encode_binding(b) for b in binding["bindings"]]
    return out


# -- locations and icons ------------------------------------------------------------------------------------


def sub_location(parent: str, sub: str) -> str:
    """`Location.Sub`: a `/` is added only when `sub` has none of its own."""
    if not sub:
        return parent
    return parent + sub if sub.startswith("/") else parent + "/" + sub


def static_url(plugin_url: str, app_id: str, name: str) -> str:
    """`Config.StaticURL`: `{PluginURL}/apps/{app_id}/static/{name}`, each part `path.Join`ed as Go does."""
    return plugin_url + golang.join_path("/apps", app_id) + "/" + golang.join_path("static", name)


def normalize_static_path(plugin_url: str, app_id: str, icon: str) -> str:
    """`normalizeStaticPath`: absolute http(s) icons stay; others must clean, then point at the static route."""
    if icon.startswith(("http://", "https://")):
        return icon
    try:
        cleaned = clean_static_url(icon)
    except (InvalidInput, golang.URLError) as exc:
        raise InvalidInput(f"invalid icon path: {exc}") from None
    return static_url(plugin_url, app_id, cleaned)


# -- forms --------------------------------------------------------------------------------------------------


def _single_word(text: str) -> bool:
    return " " not in text and "\t" not in text


def clean_static_select(field: Struct, problems: list[str]) -> list[Struct]:
    """`cleanStaticSelect`: an option's label defaults to its value (for the checks only); labels and values unique."""
    used_labels: set[str] = set()
    used_values: set[str] = set()
    clean = []
    for option in field["options"]:
        label = option["label"] or option["value"]
        if not label:
            problems.append(f"option with neither label nor value (field {field['name']})")
        elif label in used_labels:
            problems.append(f"repeated label {golang.quote(label)} on select option (field {field['name']})")
        elif option["value"] in used_values:
            problems.append(f"repeated value {golang.quote(option['value'])} on select option (field {field['name']})")
        else:
            used_labels.add(label)
            used_values.add(option["value"])
            clean.append(option)
    return clean


def clean_form_struct(form: Struct, plugin_url: str, app_id: str, problems: list[str]) -> Struct:
    """`cleanForm`: the form is always kept; bad fields are dropped. Type and subtype are not checked."""
    out = dict(form, fields=[])
    used_labels: set[str] = set()
    if form["icon"]:
        try:
            out["icon"] = normalize_static_path(plugin_url, app_id, form["icon"])
        except InvalidInput as exc:
            problems.append(f"invalid icon path in form: {exc}")
            out["icon"] = ""
    if form["submit"] is None and form["source"] is None:
        problems.append("form must define either a submit or a source")
    for original in form["fields"]:
        field = dict(original)
        if not field["name"]:
            problems.append(f"field with no name, label {field['label']}")
            continue
        if not _single_word(field["name"]):
            problems.append(f"field name must be a single word: {golang.quote(field['name'])}")
            continue
        if not field["label"]:
            field["label"] = field["name"].replace("_", "-")
        if not _single_word(field["label"]):
            problems.append(f"label must be a single word: {golang.quote(field['label'])} (field: {field['name']})")
            continue
        if field["label"] in used_labels:
            problems.append(f"repeated label: {golang.quote(field['label'])} (field: {field['name']})")
            continue
        if field["type"] == "static_select":
            field["options"] = clean_static_select(field, problems)
            if not field["options"]:
                problems.append(f"no options for static select: {field['name']}")
                continue
        elif field["type"] == "dynamic_select" and field["lookup"] is None:
            problems.append(f"no lookup call for dynamic select: {field['name']}")
            continue
        out["fields"].append(field)
        used_labels.add(field["label"])
    return out


def clean_form(form: Any, plugin_url: str, app_id: str, problems: list[str] | None = None) -> dict[str, Any]:
    """The form JSON of a CallResponse as the plugin passes it on (raises DecodeError where Go's decode fails)."""
    decoded = decode_form(form)
    if decoded is None:
        return {}
    return encode_form(clean_form_struct(decoded, plugin_url, app_id, [] if problems is None else problems))


# -- bindings -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    app_id: str
    granted: tuple[str, ...]
    plugin_url: str
    user_agent: str


def clean_app_binding(binding: Struct, prefix: str, scope: Scope, problems: list[str]) -> Struct | None:
    """`cleanAppBinding`: None when the binding is dropped; every problem Go reports is appended."""
    b = dict(binding)
    if not b["location"] and not b["label"]:
        problems.append(f"{prefix}: sub-binding with no location nor label")
        return None
    if not b["location"]:
        b["location"] = b["label"]
    trimmed = b["location"].strip()
    if trimmed != b["location"]:
        problems.append(f"{sub_location(prefix, trimmed)}: trimmed whitespace from location")
        b["location"] = trimmed
    fql = sub_location(prefix, b["location"])
    if not any(fql.startswith(granted) for granted in scope.granted):
        problems.append(f"{fql}: location is not granted: forbidden")
        return None
    if fql not in TOP_LOCATIONS:
        b["app_id"] = scope.app_id
    if fql != COMMAND and fql.startswith(COMMAND):
        if not b["label"]:
            b["label"] = b["location"]
        trimmed = b["label"].strip()
        if trimmed != b["label"]:
            problems.append(f"{fql}: trimmed whitespace from label {trimmed}")
            b["label"] = trimmed
        if not _single_word(b["label"]):
            problems.append(f"{fql}: command label {golang.quote(b['label'])} has multiple words")
            return None
    if b["icon"]:
        try:
            b["icon"] = normalize_static_path(scope.plugin_url, scope.app_id, b["icon"])
        except InvalidInput:
            problems.append(f"{fql}: invalid icon path {golang.quote(b['icon'])} in binding")
            b["icon"] = ""
    if fql == sub_location(CHANNEL_HEADER, b["location"]) and not b["icon"] and scope.user_agent == "webapp":
        problems.append(f"{fql}: no icon in channel header binding")
        return None
    has_bindings, has_form, has_submit = bool(b["bindings"]), b["form"] is not None, b["submit"] is not None
    if has_bindings and not has_form and not has_submit:
        b["bindings"] = clean_app_bindings(b["bindings"], fql, scope, problems)
        if not b["bindings"]:
            return None
    elif has_form and not has_submit and not has_bindings:
        b["form"] = clean_form_struct(b["form"], scope.plugin_url, scope.app_id, problems)
    elif has_submit and not has_bindings and not has_form:
        pass  # a submit call is passed on as it is: its path is never checked
    else:
        problems.append(f'{fql}: (only) one of  "submit", "form", or "bindings" must be set in a binding')
        return None
    return b


def clean_app_bindings(bindings: list[Struct], prefix: str, scope: Scope, problems: list[str]) -> list[Struct]:
    """`cleanAppBindings`. Its duplicate checks read maps that v1.2.2 never writes, so nothing is dropped as a duplicate."""
    out = []
    for binding in bindings:
        clean = clean_app_binding(binding, prefix, scope, problems)
        if clean is not None:
            out.append(clean)
    return out


def merge_bindings(first: list[Struct], second: list[Struct]) -> list[Struct]:
    """`mergeBindings`: a binding with the app and location of an earlier one replaces it, their sub-bindings merged."""
    out = list(first)
    for b2 in second:
        found = False
        for index, existing in enumerate(out):
            if b2.get("app_id", "") == existing.get("app_id", "") and b2.get("location", "") == existing.get("location", ""):
                found = True
                merged = dict(b2)
                if existing.get("bindings"):
                    merged["bindings"] = merge_bindings(existing["bindings"], b2.get("bindings") or [])
                    if not merged["bindings"]:
                        del merged["bindings"]
                out[index] = merged
        if not found:
            out.append(b2)
    return out


def sort_top_bindings(bindings: list[Struct]) -> list[Struct]:
    """`SortTopBindings`: top level by location, their sub-bindings by app id (small slices sort stably in Go)."""
    out = []
    for top in bindings:
        binding = dict(top)
        if binding.get("bindings"):
            binding["bindings"] = sorted(binding["bindings"], key=lambda sub: sub.get("app_id", ""))
        out.append(binding)
    return sorted(out, key=lambda b: b.get("location", ""))


def clean_bindings(
    data: Any, *, app_id: str, granted_locations: tuple[str, ...], plugin_url: str, user_agent: str = ""
) -> tuple[list[dict[str, Any]], list[str]]:
    """`InvokeGetBindings` for one app's `data`, then the merge and sort of `GetBindings`: (bindings JSON, problems)."""
    problems: list[str] = []
    try:
        decoded = decode_bindings(copy.deepcopy(data))
    except DecodeError as exc:
        return [], [f"failed to decode bindings: {exc}"]
    scope = Scope(app_id, granted_locations, plugin_url, user_agent)
    cleaned = clean_app_bindings(decoded, "", scope, problems)
    encoded = [encode_binding(b) for b in cleaned]
    return sort_top_bindings(merge_bindings([], encoded)), problems
