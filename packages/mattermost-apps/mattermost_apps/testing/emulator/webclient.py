"""What Mattermost's web client does with an app's bindings, forms and call responses.

`validate_bindings`, `clean_binding` and `clean_form` follow mattermost-redux's `utils/apps` (`lib/utils/apps.js`
in the npm package `mattermost-redux` 11.9.0; tests/emulator/test_web_client.py runs that very file with node
on the same inputs and compares). `create_call_request` follows the webapp's `utils/apps.ts`,
`submit_response` its `doAppSubmit` (`actions/apps.ts`), `command_response` the end of `executeCommand`
(`actions/command.ts`); those three are in mattermost/mattermost under `webapp/channels/src/`.
All of them change their argument in place, as the JavaScript does.
"""

from __future__ import annotations

import re
from typing import Any

COMMAND = "/command"
CHANNEL_HEADER = "/channel_header"
POST_MENU = "/post_menu"
_SPACE = re.compile(r" |\t")


def truthy(value: Any) -> bool:
    """JavaScript truthiness: every object and array is true, even an empty one."""
    if isinstance(value, dict | list):
        return True
    return bool(value)


def js_str(value: Any) -> str:
    """`'' + value` in JavaScript, for the few places the client concatenates possibly missing fields."""
    if value is None:
        return "undefined"
    return str(value)


def clean_form(form: dict[str, Any] | None) -> None:
    """`cleanForm`: drops fields without a one-word name, with a spaced or repeated label (default: the name),
    static selects left without options, dynamic selects without a lookup. It never sets a label."""
    if not form:
        return
    kept = []
    used_labels: set[str] = set()
    for field in form.get("fields") or []:
        name = field.get("name")
        if not name or _SPACE.search(name):
            continue
        label = field.get("label") or name
        if _SPACE.search(label) or label in used_labels:
            continue
        if field.get("type") == "static_select":
            _clean_static_select(field)
            if not field.get("options"):
                continue
        elif field.get("type") == "dynamic_select" and not truthy(field.get("lookup")):
            continue
        used_labels.add(label)
        kept.append(field)
    if "fields" in form and form["fields"] is not None:
        form["fields"][:] = kept


def _clean_static_select(field: dict[str, Any]) -> None:
    if field.get("options") is None:
        return
    kept = []
    used_labels: set[str] = set()
    used_values: set[Any] = set()
    for option in field["options"]:
        label = option.get("label") or option.get("value")
        if not label or label in used_labels or option.get("value") in used_values:
            continue
        used_labels.add(label)
        used_values.add(option.get("value"))
        kept.append(option)
    field["options"][:] = kept


def clean_binding(binding: dict[str, Any] | None, top_location: str, depth: int = 0) -> None:
    """`cleanBinding`: sub-bindings inherit the app id, default their label to the location, get the parent's
    location as a prefix; invalid ones (and, for commands, spaced or repeated labels) are dropped."""
    if not binding:
        return
    kept = []
    used_labels: set[str] = set()
    for sub in binding.get("bindings") or []:
        if not sub.get("app_id"):
            sub["app_id"] = binding.get("app_id")
        if not sub.get("label"):
            sub["label"] = sub.get("location") or ""
        sub["location"] = js_str(binding.get("location")) + "/" + js_str(sub.get("location"))
        if not sub.get("app_id") or not sub["label"].strip():
            continue
        if top_location == COMMAND and (_SPACE.search(sub["label"]) or sub["label"] in used_labels):
            continue
        if top_location == CHANNEL_HEADER and not sub.get("icon") and depth == 0:
            continue
        has_bindings, has_form, has_submit = bool(sub.get("bindings")), truthy(sub.get("form")), truthy(sub.get("submit"))
        if [has_bindings, has_form, has_submit].count(True) != 1:
            continue
        if has_bindings:
            clean_binding(sub, top_location, depth + 1)
            if not sub.get("bindings"):
                continue
        elif has_form:
            if not truthy(sub["form"].get("submit")) and not truthy(sub["form"].get("source")):
                continue
            clean_form(sub["form"])
        used_labels.add(sub["label"])
        kept.append(sub)
    if binding.get("bindings") is not None:
        binding["bindings"][:] = kept


def validate_bindings(bindings: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """`validateBindings`: post menu, channel header and command top-level bindings, cleaned; others are dropped."""
    if not bindings:
        return []

    def of(location: str) -> list[dict[str, Any]]:
        found = [b for b in bindings if b.get("location") == location]
        for binding in found:
            clean_binding(binding, location)
        return [b for b in found if b.get("bindings")]

    channel_header, post_menu, command = of(CHANNEL_HEADER), of(POST_MENU), of(COMMAND)
    return post_menu + channel_header + command


def command_bindings(bindings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`makeAppBindingsSelector('/command')`: the apps' base commands, from every `/command` top-level binding."""
    return [sub for top in bindings if top.get("location") == COMMAND for sub in top.get("bindings") or []]


def create_call_request(
    call: dict[str, Any],
    context: dict[str, Any],
    default_expand: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    raw_command: str | None = None,
) -> dict[str, Any]:
    """`createCallRequest`: the call's own keys, then context, values, a merged `expand` (always an object)."""
    request = {**call, "context": context, "values": values, "expand": {**(default_expand or {}), **(call.get("expand") or {})}}
    request["raw_command"] = raw_command
    return {k: v for k, v in request.items() if v is not None}  # JSON.stringify leaves out what is undefined


def submit_response(response: dict[str, Any]) -> dict[str, Any]:
    """`doAppSubmit`: the response the client goes on with, or an error response it makes itself."""
    kind = response.get("type") or "ok"
    if kind in ("ok", "error"):
        return response
    if kind == "form":
        if not truthy((response.get("form") or {}).get("submit")):
            return {"type": "error", "text": "Response type is `form`, but no valid form was included in response."}
        clean_form(response["form"])
        return response
    if kind == "navigate":
        if not response.get("navigate_to_url"):
            return {"type": "error", "text": "Response type is `navigate`, but no url was included in response."}
        return response
    return {"type": "error", "text": f"App response type not supported. Response type: {kind}."}


def fetched_form_problem(response: dict[str, Any]) -> str | None:
    """`fetchSubmittableForm` (`app_command_parser.ts`) after `doAppFetchForm`: why a form source's answer is unusable."""
    kind = response.get("type") or "ok"
    if kind == "error":
        return response.get("text") or "Unknown error occurred."
    if kind in ("ok", "navigate"):
        return f"App response type was not expected. Response type: {kind}"
    if kind != "form":
        return f"App response type not supported. Response type: {kind}."
    if not truthy((response.get("form") or {}).get("submit")):
        return "No submit call in binding or form."
    return None


def command_response(response: dict[str, Any]) -> dict[str, Any]:
    """What `executeCommand` makes of a submitted command's response: ok (text posted), form (modal), navigate."""
    answer = submit_response(response)
    kind = answer.get("type") or "ok"
    if kind == "error":
        return {"type": "error", "text": answer.get("text") or "Unknown error occurred."}
    if kind not in ("ok", "form", "navigate"):
        return {"type": "error", "text": f"App response type not supported. Response type: {kind}."}
    return answer
