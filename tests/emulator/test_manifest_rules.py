"""The manifest rules of protocol §1.2, one row per rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.apps_plugin.manifest_rules import clean_static_path, validate_manifest
from tests.emulator.conftest import stub_manifest

ROOT = "http://127.0.0.1:8080"


def test_a_complete_manifest_passes() -> None:
    assert validate_manifest(stub_manifest(ROOT)) == []


def test_the_apps_own_manifest_passes() -> None:
    manifest = json.loads((Path(__file__).resolve().parents[2] / "manifest.json").read_text())
    assert validate_manifest(manifest) == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"app_id": "ab"}, "app_id: 'ab' must be 3 to 32 bytes long"),
        ({"app_id": "a" * 33}, "must be 3 to 32 bytes long"),
        ({"app_id": "é" * 17}, "must be 3 to 32 bytes long"),  # 34 bytes: the limit counts bytes
        ({"app_id": "my app"}, "app_id: 'my app' may contain only letters"),
        ({"app_id": "my/app"}, "may contain only letters"),
        ({"app_id": ""}, "app_id: must not be empty"),
        ({"version": "v00_00_0000"}, "version: 'v00_00_0000' is longer than 10 characters"),
        ({"version": "v1 0"}, "version: 'v1 0' may contain only letters"),
        ({"display_name": ""}, "display_name: must not be empty"),
        ({"homepage_url": ""}, "homepage_url: must not be empty"),
        ({"homepage_url": "ftp://example.com"}, "homepage_url: 'ftp://example.com' is not a valid http(s) URL"),
        ({"homepage_url": "http://"}, "is not a valid http(s) URL"),
        ({"homepage_url": "example.com/home"}, "is not a valid http(s) URL"),
        ({"icon": "../icon.png"}, "icon: '../icon.png' is not a valid path inside the static folder"),
        ({"icon": "%2e%2e/x.png"}, "is not a valid path inside the static folder"),
        ({"icon": "../.."}, "is not a valid path inside the static folder"),
        ({"http": None}, "deploy: at least one of http, aws_lambda, open_faas or plugin is required"),
        ({"http": {"use_jwt": True}}, "http.root_url: must not be empty"),
        ({"http": {"root_url": "localhost:8080"}}, "http.root_url: 'localhost:8080' is not a valid http(s) URL"),
        ({"requested_permissions": ["remote_oauth2"]}, "requested_permissions: remote_oauth2 requires act_as_user"),
        ({"requested_permissions": ["remote_webhooks"]}, "remote_webhooks requires act_as_bot"),
        (
            {"requested_permissions": ["user_joined_channel_notification", "act_as_user"]},
            "user_joined_channel_notification requires act_as_bot",
        ),
    ],
)
def test_each_broken_rule_gives_one_error(overrides: dict[str, Any], expected: str) -> None:
    errors = validate_manifest(stub_manifest(ROOT, **overrides))
    assert len(errors) == 1, errors
    assert expected in errors[0]


@pytest.mark.parametrize(
    "overrides",
    [
        {"app_id": "abc"},
        {"app_id": "a" * 32},
        {"app_id": "my-app_1.x"},
        {"app_id": "приложение"},  # unicode.IsLetter: non-ASCII letters pass
        {"version": ""},
        {"version": "v00_00_000"},
        {"version": "1.0.0-rc1"},
        {"icon": None},
        {"icon": "/icon.png"},
        {"http": None, "aws_lambda": {"functions": []}},
        {"http": {"root_url": "https://host.example/prefix"}},
        {"requested_permissions": ["act_as_user", "remote_oauth2", "made_up_permission"]},
    ],
)
def test_accepted_edge_cases(overrides: dict[str, Any]) -> None:
    assert validate_manifest(stub_manifest(ROOT, **overrides)) == []


def test_several_broken_rules_give_several_errors() -> None:
    errors = validate_manifest({"app_id": "x", "homepage_url": "nope"})
    assert len(errors) == 4  # app_id, display_name, homepage_url, deploy


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("icon.png", "icon.png"),
        ("/icon.png", "./icon.png"),
        ("a/../icon.png", "icon.png"),
        ("%2Fx.png", "./x.png"),
        ("../x.png", None),
        ("..", None),
        (".", None),
        ("%252e%252e/x", None),
    ],
)
def test_clean_static_path(name: str, expected: str | None) -> None:
    assert clean_static_path(name) == expected
