"""Serving: the manifest, the icon, `/ping`, `on_install` and the home page (handlers/install.py)."""

from __future__ import annotations

import json

import pytest

from app import create_app
from mattermost_apps import forbidden_call_paths
from mattermost_apps.testing import (
    DEFAULT_COMPLETE_EXPAND,
    DEFAULT_CONNECT_EXPAND,
    EXPAND_LEVELS,
    call_headers,
    ping_request,
    sign_jwt,
)
from mattermost_apps.testing.emulator.manifest_rules import (
    MAX_VERSION_LENGTH,
    clean_static_path,
    is_valid_url,
    validate_app_id,
    validate_manifest,
    validate_version,
)
from tests.conftest import ADMIN, APP_SECRET, make_settings, paths
from tests.names import APP_ID, CMD, MANIFEST

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def manifest(client):
    response = client.get("/manifest.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


# -- GET /manifest.json ------------------------------------------------------------------------------


def test_manifest_passes_every_rule_of_the_plugins_validation(manifest):
    assert validate_manifest(manifest) == []


def test_manifest_identity(manifest):
    # The app serves its manifest.json as written, with only the deployment's URLs filled in.
    assert manifest["app_id"] == APP_ID
    assert manifest["display_name"] == MANIFEST["display_name"] != ""
    assert manifest["icon"] == "icon.png"
    assert manifest["description"]


def test_manifest_version_fits_the_plugins_10_character_limit(manifest):
    # The docs say v00.00.0000 (11 characters); the plugin refuses anything over 10.
    assert 0 < len(manifest["version"]) <= MAX_VERSION_LENGTH
    assert validate_version(manifest["version"]) == []


def test_manifest_requests_the_permissions_the_flow_needs(manifest):
    assert sorted(manifest["requested_permissions"]) == ["act_as_bot", "act_as_user", "remote_oauth2"]
    assert manifest["requested_locations"] == ["/command"]


def test_manifest_asks_for_jwt(manifest):
    assert manifest["http"]["use_jwt"] is True


@pytest.mark.parametrize(
    ("root_url", "expected_root", "expected_homepage"),
    [
        ("http://app.test:8080", "http://app.test:8080", "http://app.test:8080/"),
        ("https://apps.example.com/oauth2-app/", "https://apps.example.com/oauth2-app", "https://apps.example.com/oauth2-app/"),
        ("http://oauth2-app:8080", "http://oauth2-app:8080", "http://oauth2-app:8080/"),
    ],
)
def test_manifest_urls_come_from_the_root_url_setting(root_url, expected_root, expected_homepage):
    client = create_app(make_settings(root_url=root_url)).test_client()
    manifest = client.get("/manifest.json").get_json()
    assert manifest["http"]["root_url"] == expected_root
    assert manifest["homepage_url"] == expected_homepage
    assert validate_manifest(manifest) == []


def test_manifest_bindings_expand_gives_roles_the_oauth2_app_and_user_and_the_locale(manifest):
    assert manifest["bindings"] == {
        "path": paths.BINDINGS,
        "expand": {"acting_user": "summary", "oauth2_app": "all", "oauth2_user": "all", "locale": "all"},
    }


@pytest.mark.parametrize(
    ("call", "default"), [("get_oauth2_connect_url", DEFAULT_CONNECT_EXPAND), ("on_oauth2_complete", DEFAULT_COMPLETE_EXPAND)]
)
def test_manifest_declares_the_oauth2_calls_with_all_of_the_default_expand_and_the_locale(manifest, call, default):
    # A declared expand replaces the default one whole (`Call.WithDefault`, `apps/call.go`): the complete call must
    # keep the acting_user_access_token it stores the record with, and the default paths stay.
    declared = manifest[call]
    assert declared["path"] == {"get_oauth2_connect_url": paths.OAUTH2_CONNECT, "on_oauth2_complete": paths.OAUTH2_COMPLETE}[call]
    assert declared["expand"] == {**default, "locale": "all"}


def test_manifest_expand_levels_are_ones_the_plugin_accepts(manifest):
    for call_name in ("bindings", "on_install", "get_oauth2_connect_url", "on_oauth2_complete"):
        for key, level in manifest[call_name].get("expand", {}).items():
            assert level.removeprefix("+") in EXPAND_LEVELS, (call_name, key, level)


def test_manifest_on_install_is_a_call_the_app_serves(manifest, client):
    assert manifest["on_install"]["path"] == paths.INSTALL
    served = {rule.rule for rule in client.application.url_map.iter_rules() if "POST" in rule.methods}
    assert paths.INSTALL in served
    assert paths.INSTALL in forbidden_call_paths(manifest)  # the plugin refuses it from the user agent


# The helper rules themselves: the plugin refuses these (its own words), so our manifest check must too.
@pytest.mark.parametrize(
    ("manifest_patch", "expected_error"),
    [
        ({"app_id": "go"}, "appID go too short"),
        ({"app_id": "oauth2 app"}, "invalid character ' ' in appID"),
        ({"version": "v00_00_0000"}, "version v00_00_0000 too long"),
        ({"display_name": ""}, "display_name is empty"),
        ({"homepage_url": "localhost:8080"}, 'homepage_url "localhost:8080" invalid'),
        ({"icon": "../icon.png"}, 'bad path: "../icon.png"'),
        ({"http": {"root_url": "ftp://app"}}, 'invalid root_url: "ftp://app"'),
        ({"http": None}, "manifest has no deployment information"),
        ({"requested_permissions": ["remote_oauth2"]}, "requires use Mattermost REST API as connected users"),
    ],
)
def test_a_manifest_breaking_a_plugin_rule_is_reported(manifest, manifest_patch, expected_error):
    broken = {**manifest, **manifest_patch}
    errors = validate_manifest(broken)
    assert any(expected_error in e for e in errors), errors


def test_rule_helpers_accept_the_real_values(manifest):
    assert validate_app_id(manifest["app_id"]) == []
    assert clean_static_path(manifest["icon"]) == "icon.png"
    assert is_valid_url(manifest["homepage_url"]) and is_valid_url(manifest["http"]["root_url"])


def test_manifest_needs_no_jwt_and_carries_no_secret(client):
    response = client.get("/manifest.json")
    assert response.status_code == 200
    assert APP_SECRET not in response.get_data(as_text=True)


# -- GET /static/<name> ------------------------------------------------------------------------------


def test_icon_is_a_real_png_the_install_can_download(client, manifest):
    # The plugin downloads {root_url}/static/<icon> at install and fails unless it is a 200.
    response = client.get(f"/static/{manifest['icon']}")
    assert response.status_code == 200
    assert response.data.startswith(PNG_MAGIC)
    assert response.mimetype == "image/png"


def test_unknown_static_file_is_404(client):
    assert client.get("/static/nope.png").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/static/..%2Fapp.py",
        "/static/%2e%2e%2fsettings.py",
        "/static/..%2F..%2Fetc%2Fpasswd",
        "/static/../app.py",
        "/static/%2Fetc%2Fpasswd",
    ],
)
def test_static_refuses_path_traversal(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert b"def create_app" not in response.data and b"root:" not in response.data


# -- POST /ping and on_install -------------------------------------------------------------------------


def test_ping_answers_ok_to_the_install_ping(client, installed):
    # Sent at install without expand; its JWT has no acting_user_id
    # (`pingApp`, `server/proxy/invoke_static.go`; `createJWT`, `upstream/uphttp/upstream.go`).
    body = ping_request()
    response = client.post("/ping", data=json.dumps(body), headers=call_headers(installed, body))
    assert response.status_code == 200
    assert response.get_json() == {"type": "ok"}


def test_ping_without_jwt_is_refused_with_200_error(client):
    response = client.post("/ping", data=json.dumps(ping_request()), headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["type"] == "error" and "Outgoing JWT Secret" in body["text"]


def test_on_install_tells_the_admin_the_next_step(plugin, requests_mock):
    result = plugin.call(paths.INSTALL, {"acting_user": "summary"}, user=ADMIN)
    assert result["type"] == "ok"
    assert f"`{CMD} configure`" in result["text"] and f"`{CMD} connect`" in result["text"]
    assert requests_mock.request_history == []


def test_on_install_with_a_forged_jwt_is_refused(client, installed):
    body = {"path": paths.INSTALL, "context": {"oauth2": {}}}
    headers = {"Mattermost-App-Authorization": "Bearer " + sign_jwt("not-the-secret")}
    response = client.post(paths.INSTALL, data=json.dumps(body), headers=headers)
    assert response.status_code == 200 and response.get_json()["type"] == "error"


# -- GET / ---------------------------------------------------------------------------------------------


def test_home_page_shows_the_install_command(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "/apps install http http://app.test:8080/manifest.json" in page
    assert "Outgoing JWT Secret" in page
    assert MANIFEST["display_name"] in page


def test_home_page_never_shows_the_app_secret(client):
    assert APP_SECRET not in client.get("/").get_data(as_text=True)


def test_home_page_escapes_the_root_url():
    client = create_app(make_settings(root_url="http://app.test/<script>")).test_client()
    page = client.get("/").get_data(as_text=True)
    assert "<script>" not in page
