"""Mattermost's own web-client code, run by node on the JSON your app produces.

`run(jobs, node_modules)` runs `web_client.cjs` (shipped beside this module) with node, against the npm package
`mattermost-redux` installed in `node_modules`: `validateBindings`, `cleanBinding` and `cleanForm` from its
`utils/apps`, and the constants of `constants/apps`. Each job is `{"fn": name, "arg": json, "top": location}`;
each result is `{"returned": ..., "arg": ...}`, the argument as the function left it (they change it in place).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().with_name("web_client.cjs")
Jobs = list[dict[str, Any]]


class WebClientMissing(RuntimeError):
    """`mattermost-redux` is not installed where the caller said."""


def run(jobs: Jobs, node_modules: Path, *, timeout: float = 60) -> list[dict[str, Any]]:
    if not (node_modules / "mattermost-redux").is_dir():
        raise WebClientMissing(f"mattermost-redux is not installed in {node_modules}: run `npm ci` where its package.json is")
    done = subprocess.run(  # noqa: S603 - node, a fixed script, JSON on stdin
        ["node", str(SCRIPT)],  # noqa: S607
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "NODE_PATH": str(node_modules)},
    )
    if done.returncode != 0:
        raise RuntimeError(f"web_client.cjs failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)


def installed_version(node_modules: Path) -> str:
    return json.loads((node_modules / "mattermost-redux" / "package.json").read_text())["version"]


def prefixed(bindings: list[dict[str, Any]], parent: str | None = None) -> list[dict[str, Any]]:
    """`bindings` as the client leaves them when it changes nothing else (`validateBindings`): each sub-binding's
    location gets its parent's as a prefix. Compare the client's output with this to see that it dropped nothing."""
    out = []
    for binding in copy.deepcopy(bindings):
        if parent is not None:
            binding["location"] = parent + "/" + binding["location"]
        if binding.get("bindings"):
            binding["bindings"] = prefixed(binding["bindings"], binding["location"])
        out.append(binding)
    return out
