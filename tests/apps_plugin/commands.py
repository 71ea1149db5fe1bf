"""What the webapp does with a slash command: walk the app's `/command` bindings, then submit or open the form."""

from __future__ import annotations

import shlex
from typing import Any

from mattermost_apps.testing import User

from .plugin import CallFailed, Plugin


def _error(text: str) -> dict[str, Any]:
    return {"type": "error", "text": text}


def _split(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def _flags(words: list[str]) -> dict[str, Any]:
    """`--name value` pairs; a flag with no value is `true`, like a bool field."""
    values: dict[str, Any] = {}
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("--") and len(word) > 2:
            if index + 1 < len(words) and not words[index + 1].startswith("--"):
                values[word[2:]] = words[index + 1]
                index += 2
                continue
            values[word[2:]] = True
        index += 1
    return values


def submit(
    plugin: Plugin, user: User, call: dict[str, Any], values: dict[str, Any] | None = None, raw_command: str | None = None
) -> dict[str, Any]:
    """Submit a call as the webapp does (`POST /api/v1/call`)."""
    try:
        app_id = plugin.app().app_id
    except CallFailed as exc:
        return _error(str(exc))
    request: dict[str, Any] = {
        "path": call.get("path"),
        "expand": call.get("expand"),
        "state": call.get("state"),
        "values": values or {},
        "context": {"app_id": app_id},
    }
    if raw_command:
        request["raw_command"] = raw_command
    return plugin.user_agent_call(user, request)


def run_command(plugin: Plugin, user: User, command: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    words = _split(command.strip())
    if not words or not words[0].startswith("/") or len(words[0]) < 2:
        return _error("A command starts with /, e.g. /google help.")
    try:
        bindings = plugin.bindings_for(user)
    except CallFailed as exc:
        return _error(f"Failed to fetch the app's commands: {exc}")
    top = next((b for b in bindings if b.get("location") == "/command"), None)
    candidates = top.get("bindings", []) if top else []
    trigger = words[0][1:]
    binding = next((b for b in candidates if b.get("label") == trigger), None)
    if binding is None:
        return _error(f"Command with a trigger of '{words[0]}' not found.")
    rest = words[1:]
    while binding.get("bindings"):
        if not rest or rest[0].startswith("--"):
            labels = " | ".join(b["label"] for b in binding["bindings"])
            return _error(f"{' '.join(words[: len(words) - len(rest)])}: choose one of {labels}.")
        child = next((b for b in binding["bindings"] if b.get("label") == rest[0]), None)
        if child is None:
            return _error(f"{' '.join(words[: len(words) - len(rest) + 1])}: unknown sub-command.")
        binding, rest = child, rest[1:]
    given = {**_flags(rest), **(values or {})}
    if binding.get("submit"):
        return submit(plugin, user, binding["submit"], given, raw_command=command)
    form = binding["form"]
    if given and form.get("submit"):
        return submit(plugin, user, form["submit"], given, raw_command=command)
    if form.get("source") and not form.get("fields"):
        return submit(plugin, user, form["source"], given)
    return {"type": "form", "form": form}
