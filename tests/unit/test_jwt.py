"""JWT: every call route checks `Mattermost-App-Authorization` (HS256, `exp`, acting user);
a refused call is an HTTP 200 error that helps the admin, and nothing runs. The verification itself is tested in
tests/mattermost_apps/test_jwt_auth.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
import warnings

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from app import create_app
from mattermost_apps.testing import JWT_HEADER, ping_request, sign_jwt
from tests.conftest import (
    ADMIN,
    ALICE,
    APP_SECRET,
    CLIENT_ID,
    CLIENT_SECRET,
    CONFIGURE_SUBMIT_EXPAND,
    HELP_EXPAND,
    make_settings,
    paths,
)

SECRET_HINT = '"Outgoing JWT Secret"'
# Every POST route the app registers: the plugin's own calls, the form submit and one per command of the table.
CALL_PATHS = sorted(r.rule for r in create_app(make_settings()).url_map.iter_rules() if "POST" in (r.methods or ()))


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned_token(claims: dict) -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


def hs256_with_empty_key(claims: dict) -> str:
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(claims)}"
    signature = hmac.new(b"", signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def claims_for(user=ALICE, **extra):
    return {"exp": int(time.time()) + 900, "acting_user_id": user.id, **extra}


def post(plugin, header, *, path=paths.HELP, expand=HELP_EXPAND, user=ALICE, values=None):
    body = plugin.request(path, expand, user=user, values=values)
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers[JWT_HEADER] = header
    response = plugin.client.post(path, data=json.dumps(body), headers=headers)
    assert response.status_code == 200  # the plugin shows any other status as a raw body
    assert response.mimetype == "application/json"
    return response.get_json()


def test_valid_jwt_is_accepted(plugin):
    assert post(plugin, "Bearer " + sign_jwt(APP_SECRET, ALICE.id))["type"] == "ok"


def test_scheme_is_case_insensitive(plugin):
    assert post(plugin, "bearer " + sign_jwt(APP_SECRET, ALICE.id))["type"] == "ok"


def test_ping_jwt_without_acting_user_id_is_accepted(plugin):
    # The install ping runs no expand: no acting_user in the context, no acting_user_id claim
    # (`createJWT`, `upstream/uphttp/upstream.go`).
    body = ping_request()
    headers = {JWT_HEADER: "Bearer " + sign_jwt(APP_SECRET), "Content-Type": "application/json"}
    response = plugin.client.post(paths.PING, data=json.dumps(body), headers=headers)
    assert response.status_code == 200 and response.get_json() == {"type": "ok"}


def test_call_without_acting_user_expand_needs_no_acting_user_claim(plugin):
    body = plugin.request(paths.HELP, {"oauth2_app": "all"}, user=ALICE)
    headers = {JWT_HEADER: "Bearer " + sign_jwt(APP_SECRET), "Content-Type": "application/json"}
    assert plugin.client.post(paths.HELP, data=json.dumps(body), headers=headers).get_json()["type"] == "ok"


def test_expired_within_the_leeway_is_accepted(plugin):
    token = jwt.encode(claims_for(exp=int(time.time()) - 5), APP_SECRET, algorithm="HS256")
    assert post(plugin, f"Bearer {token}")["type"] == "ok"


with warnings.catch_warnings():  # PyJWT warns that the test secret is short for SHA-512; it is refused anyway
    warnings.simplefilter("ignore")
    HS512 = jwt.encode(claims_for(), APP_SECRET, algorithm="HS512")
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RS256 = jwt.encode(claims_for(), RSA_KEY, algorithm="RS256")


@pytest.mark.parametrize(
    ("header", "expected_in_text"),
    [
        (None, SECRET_HINT),
        ("", SECRET_HINT),
        ("Basic " + base64.b64encode(b"user:pass").decode(), "Bearer <jwt>"),
        ("Token " + sign_jwt(APP_SECRET, ALICE.id), "Bearer <jwt>"),
        ("Bearer ", "Bearer <jwt>"),
        (sign_jwt(APP_SECRET, ALICE.id), "Bearer <jwt>"),
        ("Bearer " + sign_jwt("the-wrong-secret-0123456789abcdef0123", ALICE.id), SECRET_HINT),
        ("Bearer " + hs256_with_empty_key(claims_for()), SECRET_HINT),  # an install dialog left empty signs with an empty key
        ("Bearer " + jwt.encode(claims_for(exp=int(time.time()) - 600), APP_SECRET, algorithm="HS256"), "expired"),
        ("Bearer " + unsigned_token(claims_for()), "HS256"),
        ("Bearer " + HS512, "HS256"),
        ("Bearer " + RS256, "HS256"),
        ("Bearer " + jwt.encode({"acting_user_id": ALICE.id}, APP_SECRET, algorithm="HS256"), "no exp"),
        ("Bearer " + jwt.encode(claims_for(exp="tomorrow"), APP_SECRET, algorithm="HS256"), "malformed"),
        ("Bearer not.a.jwt", "malformed"),
        ("Bearer " + jwt.encode(claims_for(acting_user_id=42), APP_SECRET, algorithm="HS256"), "acting_user_id"),
        ("Bearer " + sign_jwt(APP_SECRET, ADMIN.id), "acting user does not match"),
        ("Bearer " + sign_jwt(APP_SECRET), "acting user does not match"),
    ],
    ids=[
        "missing",
        "empty",
        "basic scheme",
        "token scheme",
        "bearer without token",
        "no scheme",
        "bad signature",
        "empty-key signature",
        "expired",
        "alg none",
        "HS512",
        "RS256",
        "no exp",
        "exp not a number",
        "garbage",
        "acting_user_id not a string",
        "acting_user_id of someone else",
        "acting_user_id missing",
    ],
)
def test_bad_jwt_is_refused_with_a_helpful_200_error(plugin, requests_mock, header, expected_in_text):
    result = post(plugin, header)
    assert result["type"] == "error"
    assert expected_in_text in result["text"]
    assert APP_SECRET not in result["text"]
    assert requests_mock.request_history == []


def test_refused_call_runs_nothing_and_stores_nothing(plugin, requests_mock):
    # An unsigned caller posing as an admin must not reach POST /oauth2/app.
    result = post(
        plugin,
        "Bearer " + sign_jwt("forged-secret-0123456789abcdef0123456", ADMIN.id),
        path=paths.CONFIGURE_SUBMIT,
        expand=CONFIGURE_SUBMIT_EXPAND,
        user=ADMIN,
        values={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    assert result["type"] == "error" and SECRET_HINT in result["text"]
    assert requests_mock.request_history == []


def test_the_jwt_is_checked_before_the_body_is_parsed(plugin):
    response = plugin.client.post(paths.HELP, data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert SECRET_HINT in response.get_json()["text"]


@pytest.mark.parametrize("path", CALL_PATHS)
def test_every_call_route_requires_the_jwt(client, path, requests_mock):
    response = client.post(
        path, data=json.dumps({"path": path, "context": {"oauth2": {}}}), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.get_json()["type"] == "error" and SECRET_HINT in response.get_json()["text"]


@pytest.mark.parametrize("path", ["/manifest.json", "/static/icon.png", "/"])
def test_manifest_static_and_home_need_no_jwt(client, path):
    assert client.get(path).status_code == 200


def test_a_refusal_for_time_logs_how_far_the_clocks_differ(plugin, caplog):
    # A Mattermost server whose clock runs 10 minutes ahead: every call is refused, and the admin reads why.
    ahead = "Bearer " + sign_jwt(APP_SECRET, ALICE.id, now=time.time() + 600)
    with caplog.at_level(logging.WARNING):
        assert post(plugin, ahead)["type"] == "error"
    said = [m for r in caplog.records if (m := re.search(r"clock is about (\d+) s ahead of the app's", r.getMessage()))]
    assert said and abs(int(said[0].group(1)) - 600) <= 2, caplog.text


def test_a_clock_11_seconds_ahead_is_not_refused(plugin):
    assert post(plugin, "Bearer " + sign_jwt(APP_SECRET, ALICE.id, now=time.time() + 11))["type"] == "ok"
