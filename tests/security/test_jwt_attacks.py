"""Item 3: what a caller who can reach the app's port but lacks the JWT secret (or holds another user's JWT) gets.

Every refused call must answer HTTP 200 with a CallResponse error and must not run the handler: `requests_mock`
is strict and has nothing registered, so a handler reaching Mattermost or the provider would fail the test.
"""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mattermost_apps.jwt_auth import JWTRejected, verify_call_jwt
from mattermost_apps.testing import JWT_HEADER, sign_jwt
from settings import Settings, SettingsError
from tests.conftest import ADMIN, ALICE, APP_SECRET, CLIENT_ID, CLIENT_SECRET, CONFIGURE_SUBMIT_EXPAND, TOKEN_USE_EXPAND

SECRET_HINT = ("Outgoing JWT Secret", "APP_SECRET")


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def exp(offset: float = 900) -> int:
    return int(time.time() + offset)


def post(plugin, body: dict, header: str | None):
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers[JWT_HEADER] = header
    response = plugin.client.post(body["path"], data=json.dumps(body), headers=headers)
    assert response.status_code == 200
    return response.get_json()


def assert_refused(answer: dict, *words: str) -> None:
    assert answer["type"] == "error", answer
    assert "JWT" in answer["text"] or JWT_HEADER in answer["text"], answer
    for word in words:
        assert word in answer["text"], answer


def info_request(plugin, user=ALICE) -> dict:
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    return plugin.request("/commands/info", TOKEN_USE_EXPAND, user=user)


def rsa_token(claims: dict, **headers) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256", headers=headers or None)


ALGORITHM_ATTACKS = {
    "alg-none": lambda claims: f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.",
    "alg-None-capitalised": lambda claims: f"{b64({'alg': 'None', 'typ': 'JWT'})}.{b64(claims)}.",
    "HS384-right-secret": lambda claims: jwt.encode(claims, APP_SECRET, algorithm="HS384"),
    "HS512-right-secret": lambda claims: jwt.encode(claims, APP_SECRET, algorithm="HS512"),
    "RS256-own-key": rsa_token,
    "RS256-embedded-jwk": lambda claims: rsa_token(claims, jwk={"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
}


@pytest.mark.parametrize("forge", ALGORITHM_ATTACKS.values(), ids=ALGORITHM_ATTACKS.keys())
def test_only_hs256_is_accepted(plugin, requests_mock, forge):
    body = info_request(plugin)
    answer = post(plugin, body, "Bearer " + forge({"exp": exp(), "acting_user_id": ALICE.id}))
    assert_refused(answer)
    assert "HS256" in answer["text"] or "signature" in answer["text"] or "malformed" in answer["text"]


def test_a_wrong_secret_is_refused_and_the_text_names_the_install_field_and_app_secret(plugin, requests_mock):
    body = info_request(plugin)
    answer = post(plugin, body, "Bearer " + sign_jwt("not-the-app-secret-0123456789abcdef", ALICE.id))
    assert_refused(answer, *SECRET_HINT)


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic YWxpY2U6cHc=", "garbage"],
    ids=["absent", "empty", "bearer-only", "bearer-space", "basic", "garbage"],
)
def test_a_missing_or_malformed_header_is_refused(plugin, requests_mock, header):
    answer = post(plugin, info_request(plugin), header)
    assert_refused(answer)
    if header in (None, ""):
        assert all(word in answer["text"] for word in SECRET_HINT), answer


def test_the_jwt_in_another_header_does_not_count(plugin, requests_mock):
    body = info_request(plugin)
    response = plugin.client.post(
        body["path"], data=json.dumps(body), headers={"Authorization": "Bearer " + sign_jwt(APP_SECRET, ALICE.id)}
    )
    assert_refused(response.get_json(), *SECRET_HINT)


def test_a_tampered_payload_is_refused(plugin, requests_mock):
    """Alice's genuine token with acting_user_id swapped for the admin's, signature kept."""
    body = info_request(plugin, user=ADMIN)
    header, _, signature = sign_jwt(APP_SECRET, ALICE.id).split(".")
    forged = f"{header}.{b64({'exp': exp(), 'acting_user_id': ADMIN.id})}.{signature}"
    assert_refused(post(plugin, body, "Bearer " + forged), *SECRET_HINT)


@pytest.mark.parametrize(
    "claims",
    [
        {"acting_user_id": ALICE.id},  # no exp
        {"exp": "9999999999", "acting_user_id": ALICE.id},  # exp not a number
        {"exp": None, "acting_user_id": ALICE.id},
    ],
    ids=["no-exp", "exp-string", "exp-null"],
)
def test_exp_is_required(plugin, requests_mock, claims):
    assert_refused(post(plugin, info_request(plugin), "Bearer " + jwt.encode(claims, APP_SECRET, algorithm="HS256")))


def test_the_leeway_is_small(plugin, requests_mock):
    """Expired 5 s ago: accepted (clock skew); 3 minutes ago: refused. A leeway over 2 minutes cannot be configured."""
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    body = plugin.request("/commands/help", {"acting_user": "summary", "oauth2_app": "all"})
    five_ago = jwt.encode({"exp": exp(-5), "acting_user_id": ALICE.id}, APP_SECRET, algorithm="HS256")
    assert post(plugin, body, "Bearer " + five_ago)["type"] == "ok"
    minute_ago = jwt.encode({"exp": exp(-180), "acting_user_id": ALICE.id}, APP_SECRET, algorithm="HS256")
    assert_refused(post(plugin, body, "Bearer " + minute_ago), "expired")
    assert verify_call_jwt("Bearer " + five_ago, APP_SECRET, leeway=30)["acting_user_id"] == ALICE.id
    with pytest.raises(ValueError, match="leeway"):
        verify_call_jwt("Bearer " + five_ago, APP_SECRET, leeway=121)
    with pytest.raises(JWTRejected):
        verify_call_jwt("Bearer " + minute_ago, APP_SECRET, leeway=120)


def test_a_users_jwt_cannot_carry_another_users_context(plugin, requests_mock):
    """Alice holds a genuine JWT for herself and forges a context naming the admin, to configure the client."""
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    body = plugin.request(
        "/configure/submit",
        CONFIGURE_SUBMIT_EXPAND,
        user=ADMIN,
        values={"client_id": CLIENT_ID, "client_secret": "attacker-secret"},
    )
    assert_refused(post(plugin, body, "Bearer " + sign_jwt(APP_SECRET, ALICE.id)), "acting user")
    # A JWT with no acting_user_id (a ping's, or a notification's) cannot carry an acting user either.
    assert_refused(post(plugin, body, "Bearer " + sign_jwt(APP_SECRET, "")), "acting user")
    # Nor one whose acting_user_id is not a string.
    odd = jwt.encode({"exp": exp(), "acting_user_id": [ADMIN.id]}, APP_SECRET, algorithm="HS256")
    assert_refused(post(plugin, body, "Bearer " + odd))


def test_every_call_route_checks_the_jwt_before_reading_the_body(app, plugin, requests_mock):
    routes = [rule.rule for rule in app.url_map.iter_rules() if "POST" in (rule.methods or ())]
    assert len(routes) >= 10
    for route in routes:
        response = plugin.client.post(route, data=b"{not json at all", headers={"Content-Type": "application/json"})
        assert response.status_code == 200
        answer = response.get_json()
        assert_refused(answer, *SECRET_HINT)  # the JWT error, not "not valid JSON": the body was never parsed


def test_an_empty_app_secret_is_refused_at_start():
    with pytest.raises(SettingsError, match="APP_SECRET"):
        Settings(app_secret="")
