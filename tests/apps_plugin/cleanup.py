"""What the plugin does to bindings and forms an app returns (protocol §11, §9)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from mattermost_apps.testing import PLUGIN_PATH

from .manifest_rules import clean_static_path

TOP_LOCATIONS = ("/command", "/channel_header", "/post_menu", "/in_post")
FIELD_TYPES = ("text", "static_select", "dynamic_select", "bool", "user", "channel", "markdown")
TEXT_SUBTYPES = ("input", "textarea", "number", "email", "tel", "url", "password")


def static_url(site_url: str, app_id: str, icon: str) -> str:
    """Relative icons become the plugin's public static URL; absolute http(s) icons are left alone."""
    if icon.startswith(("http://", "https://")):
        return icon
    cleaned = clean_static_path(icon)
    if cleaned is None:
        return ""
    return f"{site_url.rstrip('/')}{PLUGIN_PATH}/apps/{app_id}/static/{cleaned.removeprefix('./')}"


def _one_word(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and len(value.split()) == 1 and value == value.strip()


def _location_granted(location: str, granted: tuple[str, ...]) -> bool:
    for grant in granted:
        if location == grant or location.startswith(grant.rstrip("/") + "/") or grant.startswith(location + "/"):
            return True
    return False


def clean_call(call: Any) -> dict[str, Any] | None:
    if isinstance(call, str):
        call = {"path": call}
    if not isinstance(call, dict) or not isinstance(call.get("path"), str) or not call["path"].startswith("/"):
        return None
    return call


def clean_form(form: Any, site_url: str, app_id: str) -> dict[str, Any] | None:
    """A form needs `submit` or `source`; invalid fields are dropped silently."""
    if isinstance(form, str):
        form = {"source": {"path": form}}
    if not isinstance(form, dict):
        return None
    form = copy.deepcopy(form)
    for key in ("submit", "source"):
        if key in form:
            cleaned = clean_call(form[key])
            if cleaned is None:
                del form[key]
            else:
                form[key] = cleaned
    if "submit" not in form and "source" not in form:
        return None
    if isinstance(form.get("icon"), str) and form["icon"]:
        form["icon"] = static_url(site_url, app_id, form["icon"])
    fields, labels = [], set()
    for raw_field in form.get("fields") or []:
        if not isinstance(raw_field, dict) or not _one_word(raw_field.get("name")):
            continue
        field = dict(raw_field)
        field_type = field.get("type") or "text"
        if field_type not in FIELD_TYPES:
            continue
        field["type"] = field_type
        label = field.get("label") or field["name"].replace("_", "-")
        if not _one_word(label) or label in labels:
            continue
        field["label"] = label
        if field_type == "text" and field.get("subtype") not in (None, "", *TEXT_SUBTYPES):
            continue
        if field_type == "static_select":
            options, seen = [], set()
            for option in field.get("options") or []:
                if isinstance(option, dict) and option.get("label") and option.get("value") and option["value"] not in seen:
                    seen.add(option["value"])
                    options.append(option)
            if not options:
                continue
            field["options"] = options
        if field_type == "dynamic_select" and clean_call(field.get("lookup")) is None:
            continue
        labels.add(label)
        fields.append(field)
    if "fields" in form:
        form["fields"] = fields
    return form


@dataclass(frozen=True)
class _Scope:
    app_id: str
    granted: tuple[str, ...]
    site_url: str
    is_command: bool


def _clean_binding(binding: Any, parent: str, scope: _Scope) -> dict[str, Any] | None:
    if not isinstance(binding, dict):
        return None
    binding = copy.deepcopy(binding)
    label = binding.get("label") or ""
    location = binding.get("location") or label
    if scope.is_command:
        label = label or location
        if not _one_word(label):
            return None
        binding["label"] = label
    if not isinstance(location, str) or not location or "/" in location.strip("/"):
        return None
    binding["location"] = location
    full = parent.rstrip("/") + "/" + location.strip("/")
    if not _location_granted(full, scope.granted):
        return None
    binding["app_id"] = scope.app_id
    if isinstance(binding.get("icon"), str) and binding["icon"]:
        binding["icon"] = static_url(scope.site_url, scope.app_id, binding["icon"])

    kinds = [k for k in ("submit", "form", "bindings") if binding.get(k)]
    if len(kinds) != 1:
        return None
    if kinds == ["submit"]:
        binding["submit"] = clean_call(binding["submit"])
        if binding["submit"] is None:
            return None
    elif kinds == ["form"]:
        binding["form"] = clean_form(binding["form"], scope.site_url, scope.app_id)
        if binding["form"] is None:
            return None
    else:
        children = _clean_list(binding["bindings"], full, scope)
        if not children:
            return None
        binding["bindings"] = children
    return binding


def _clean_list(bindings: Any, parent: str, scope: _Scope) -> list[dict[str, Any]]:
    cleaned: list[dict[str, Any]] = []
    locations, labels = set(), set()
    for binding in bindings if isinstance(bindings, list) else []:
        result = _clean_binding(binding, parent, scope)
        if result is None or result["location"] in locations or (scope.is_command and result.get("label") in labels):
            continue
        locations.add(result["location"])
        labels.add(result.get("label"))
        cleaned.append(result)
    return cleaned


def clean_bindings(bindings: Any, *, app_id: str, granted_locations: tuple[str, ...], site_url: str) -> list[dict[str, Any]]:
    """Top-level bindings keep only known locations; below them every rule of §11 applies."""
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for top in bindings if isinstance(bindings, list) else []:
        if not isinstance(top, dict) or top.get("location") not in TOP_LOCATIONS or top["location"] in seen:
            continue
        location = top["location"]
        scope = _Scope(app_id, granted_locations, site_url, location == "/command")
        children = _clean_list(top.get("bindings"), location, scope)
        if location == "/channel_header":
            children = [child for child in children if child.get("icon")]
        if children:
            seen.add(location)
            result.append({"location": location, "bindings": children})
    return result
