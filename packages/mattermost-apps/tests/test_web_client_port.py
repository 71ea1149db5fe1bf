"""The emulator's port of the web client's binding cleanup, beside the real code: node runs mattermost-redux's
`utils/apps` (`mattermost_apps.testing.web_client`, the package pinned in tests/node/package.json) on inputs that
show each rule, and the port must agree."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from mattermost_apps.testing import web_client
from mattermost_apps.testing.emulator import webclient

pytestmark = pytest.mark.e2e

NODE_DIR = Path(__file__).resolve().parent / "node"
NODE_MODULES = NODE_DIR / "node_modules"
Jobs = list[dict[str, Any]]


def run(jobs: Jobs) -> list[dict[str, Any]]:
    if not (NODE_MODULES / "mattermost-redux").is_dir():
        pytest.fail(f"mattermost-redux is not installed: run `npm ci` in {NODE_DIR} (`make test` does)")
    return web_client.run(jobs, NODE_MODULES)


def test_the_pinned_web_client_is_installed() -> None:
    pinned = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["mattermost-redux"]
    assert web_client.installed_version(NODE_MODULES) == pinned


# -- the emulator's port of the client code, on inputs that show each rule --------------------------------------

PORT_CASES: Jobs = [
    {"fn": "validateBindings", "arg": None},
    {"fn": "validateBindings", "arg": []},
    {
        "fn": "validateBindings",
        "arg": [
            {"location": "/in_post", "bindings": [{"app_id": "a", "label": "x", "submit": {"path": "/x"}}]},
            {
                "location": "/command",
                "bindings": [
                    {
                        "app_id": "a",
                        "location": "weather",
                        "bindings": [
                            {"label": "same", "submit": {"path": "/1"}},
                            {"label": "same", "submit": {"path": "/2"}},
                            {"label": "two words", "submit": {"path": "/3"}},
                            {"label": " ", "submit": {"path": "/4"}},
                            {"location": "loc", "submit": {"path": "/5"}},
                            {"label": "both", "submit": {"path": "/6"}, "form": {"submit": {"path": "/6"}}},
                            {"label": "nothing"},
                            {"label": "emptyform", "form": {}},
                            {
                                "label": "formy",
                                "form": {
                                    "submit": {},
                                    "fields": [{"name": "a b"}, {"name": "ok", "label": "x y"}, {"name": "c"}],
                                },
                            },
                            {
                                "label": "sel",
                                "form": {
                                    "source": {"path": "/s"},
                                    "fields": [
                                        {
                                            "name": "s",
                                            "type": "static_select",
                                            "options": [{"value": "v"}, {"value": "v"}, {"label": "L", "value": "w"}],
                                        },
                                        {"name": "d", "type": "dynamic_select"},
                                        {"name": "e", "type": "static_select", "options": []},
                                    ],
                                },
                            },
                        ],
                    },
                    {"location": "noapp", "label": "noapp", "submit": {"path": "/x"}},
                ],
            },
            {
                "location": "/channel_header",
                "bindings": [
                    {"app_id": "a", "label": "noicon", "submit": {"path": "/x"}},
                    {"app_id": "a", "label": "i", "icon": "x.png", "bindings": [{"label": "inner", "submit": {"path": "/y"}}]},
                ],
            },
            {
                "location": "/post_menu",
                "bindings": [
                    {"app_id": "a", "label": "p", "submit": {"path": "/z"}},
                    {"app_id": "a", "label": "p", "submit": {"path": "/z2"}},
                ],
            },
        ],
    },
]


def test_the_emulators_port_of_the_client_code_matches_it() -> None:
    results = run(PORT_CASES)
    for job, result in zip(PORT_CASES, results, strict=True):
        arg = copy.deepcopy(job["arg"])
        assert webclient.validate_bindings(arg) == result["returned"], job
    assert len(results[2]["returned"]) == 3  # the cases above do show something: /in_post went, the rest stayed
