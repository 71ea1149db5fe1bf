"""The calls a command binding makes, read strictly. The tests that check "every command" read each binding through
these, so a shape they do not know (a form with a `source`, a field that refreshes, a key no test reads) fails them
loudly instead of leaving a command unchecked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# What the app's command bindings may hold (`app_id` is the plugin's, once it has handed them on).
BINDING_KEYS = {"location", "label", "description", "hint", "icon", "app_id", "submit", "form", "bindings"}
FORM_KEYS = {"title", "header", "icon", "submit", "fields"}  # no `source`: a command never calls it
FIELD_KEYS = {
    "name",
    "type",
    "label",
    "modal_label",
    "description",
    "hint",
    "subtype",
    "value",
    "is_required",
    "readonly",
    "position",
    "multiselect",
    "options",
    "lookup",
    "min_length",
    "max_length",
}  # no `refresh`: it calls the form's source


class UnknownShape(AssertionError):
    """A binding these tests do not know how to check."""


def _check_keys(what: str, obj: Any, known: set[str]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise UnknownShape(f"{what} is not an object: {obj!r}")
    if unknown := set(obj) - known:
        raise UnknownShape(f"{what} has keys no test reads: {sorted(unknown)}")
    return obj


def _check_call(what: str, call: Any) -> dict[str, Any]:
    call = _check_keys(what, call, {"path", "expand", "state"})
    if not isinstance(call.get("path"), str) or not isinstance(call.get("expand", {}), dict):
        raise UnknownShape(f"{what} has no path, or an expand that is not an object: {call!r}")
    return call


def leaves(bindings: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every binding that runs something (each one with no sub-commands), under `bindings`."""
    for binding in bindings:
        _check_keys(f"binding {binding.get('label')!r}", binding, BINDING_KEYS)
        if "bindings" in binding:
            yield from leaves(binding["bindings"])
        else:
            yield binding


def submit_call(binding: dict[str, Any]) -> dict[str, Any]:
    """A command binding's call: its `submit`, or its form's. Anything else (no call, both, a form without a submit,
    a form this suite does not know) raises."""
    where = f"binding {binding.get('label')!r}"
    _check_keys(where, binding, BINDING_KEYS)
    kinds = [key for key in ("submit", "form", "bindings") if key in binding]
    if kinds == ["submit"]:
        return _check_call(f"{where} submit", binding["submit"])
    if kinds == ["form"]:
        form = _check_keys(f"{where} form", binding["form"], FORM_KEYS)
        return _check_call(f"{where} form.submit", form.get("submit"))
    raise UnknownShape(f"{where} has {kinds or 'none'} of submit, form and bindings: not one command call")


def fields_of(binding: dict[str, Any]) -> list[dict[str, Any]]:
    """The fields of a command binding's form ([] for a binding with a plain submit)."""
    submit_call(binding)  # the shape is one these tests know
    fields = binding.get("form", {}).get("fields", [])
    if not isinstance(fields, list):
        raise UnknownShape(f"binding {binding.get('label')!r}: fields is not a list")
    return [_check_keys(f"binding {binding.get('label')!r} field", f, FIELD_KEYS) for f in fields]


def lookup_calls(binding: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each dynamic select's lookup call, by field name. A lookup on another type of field, or a dynamic select
    without one, raises."""
    found = {}
    for field in fields_of(binding):
        if (field.get("type") == "dynamic_select") != ("lookup" in field):
            raise UnknownShape(f"field {field.get('name')!r} of type {field.get('type')!r}: a lookup where none is called")
        if "lookup" in field:
            found[field["name"]] = _check_call(f"field {field['name']!r} lookup", field["lookup"])
    return found


def calls_of(binding: dict[str, Any]) -> list[dict[str, Any]]:
    """Every call a command binding can make: its submit, then its lookups."""
    return [submit_call(binding), *lookup_calls(binding).values()]


def typed(field: dict[str, Any]) -> tuple[str, Any]:
    """A value for `field` as a user types it after its flag, and what the web client then sends for it. A type this
    suite does not know how to type fails the test."""
    kind = field.get("type", "text")
    if kind == "text":
        return "some-words", "some-words"
    if kind == "dynamic_select":
        return "Some-name", {"label": "Some-name", "value": "Some-name"}
    if kind == "bool":
        return "true", True
    if kind == "static_select":
        option = field["options"][0]
        return option["value"], option
    raise UnknownShape(f"field {field.get('name')!r}: no test knows how to type a {kind} value")
