"""`verify_call_jwt`: PyJWT with the plugin's rules (HS256 only, a numeric `exp`, a small leeway, a string
`acting_user_id` that matches the acting user); each refusal carries its reason code."""

from __future__ import annotations

import base64
import json
import re
import time

import jwt
import pytest

from mattermost_apps import JWTRejected, verify_call_jwt
from mattermost_apps.jwt_auth import CLOCK_SKEW_SECONDS, check_acting_user
from mattermost_apps.testing import sign_jwt

SECRET = "a-secret-of-at-least-64-bytes-so-that-hs512-is-not-weak-either-0123456789"
USER_ID = "a1icea1icea1icea1icea1icea"


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def hs(claims: dict, *, secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def in_15_minutes() -> int:
    return int(time.time()) + 900


def test_the_plugins_token_is_accepted_and_its_claims_returned():
    claims = verify_call_jwt("Bearer " + sign_jwt(SECRET, USER_ID), SECRET)
    assert claims["acting_user_id"] == USER_ID and claims["exp"] > time.time()


def test_the_scheme_is_case_insensitive():
    assert verify_call_jwt("BEARER " + sign_jwt(SECRET), SECRET)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing_header"),
        ("", "missing_header"),
        ("Token " + "x", "bad_scheme"),
        ("Bearer ", "bad_scheme"),
        ("Bearer not.a.jwt", "malformed"),
        ("Bearer " + f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'exp': in_15_minutes()})}.", "bad_algorithm"),
        ("Bearer " + hs({"exp": in_15_minutes()}, algorithm="HS512"), "bad_algorithm"),
        ("Bearer " + hs({"exp": in_15_minutes()}, secret="another-secret-of-at-least-32-bytes-xx"), "bad_signature"),
        ("Bearer " + hs({"acting_user_id": USER_ID}), "missing_exp"),
        ("Bearer " + hs({"exp": int(time.time()) - 3600}), "expired"),
        ("Bearer " + hs({"exp": "9999999999"}), "bad_exp"),
        ("Bearer " + hs({"exp": True}), "expired"),
        ("Bearer " + hs({"exp": in_15_minutes(), "acting_user_id": 5}), "bad_acting_user_id"),
        ("Bearer " + hs({"exp": in_15_minutes(), "nbf": 9999999999}), "malformed"),
        ("Bearer " + hs({"exp": 253402300799}), "exp_too_far"),
        # Signed when the test runs: at collection, the margin it tests would shrink by however long the suite ran first.
        (lambda: "Bearer " + hs({"exp": int(time.time()) + 15 * 60 + 180}), "exp_too_far"),
    ],
    ids=[
        "no header",
        "empty header",
        "other scheme",
        "no token",
        "not a JWT",
        "alg none",
        "HS512 with the right secret",
        "wrong secret",
        "no exp",
        "expired",
        "exp as a string",
        "exp as a boolean",
        "acting_user_id not a string",
        "not yet valid",
        "exp in the year 9999",
        "three minutes longer than the plugin signs",
    ],
)
def test_each_refusal_has_its_reason(header, reason):
    if callable(header):
        header = header()
    with pytest.raises(JWTRejected) as raised:
        verify_call_jwt(header, SECRET)
    assert raised.value.reason == reason


def test_a_leeway_over_the_clock_skew_is_refused():
    with pytest.raises(ValueError, match="leeway"):
        verify_call_jwt("Bearer " + sign_jwt(SECRET), SECRET, leeway=CLOCK_SKEW_SECONDS + 1)


@pytest.mark.parametrize("offset", [11, 60, CLOCK_SKEW_SECONDS - 5, -(CLOCK_SKEW_SECONDS - 5)], ids=str)
def test_a_mattermost_clock_off_by_up_to_two_minutes_either_way_is_accepted(offset):
    # The plugin signs exp = its now + 15 min; a server whose clock runs `offset` s ahead of the app's signs a token
    # that looks `offset` s longer-lived (negative: it looks as if it was signed earlier).
    assert CLOCK_SKEW_SECONDS >= 120
    assert verify_call_jwt("Bearer " + sign_jwt(SECRET, USER_ID, now=time.time() + offset), SECRET)["acting_user_id"] == USER_ID


def test_a_token_that_expired_within_the_skew_is_accepted():
    assert verify_call_jwt("Bearer " + hs({"exp": int(time.time()) - (CLOCK_SKEW_SECONDS - 10)}), SECRET)


@pytest.mark.parametrize(
    ("clock_offset", "reason", "words"),
    [(600, "exp_too_far", "ahead of"), (-1100, "expired", "behind")],
    ids=["ahead by 10 minutes", "behind by 18 minutes"],
)
def test_a_refusal_for_time_says_how_far_the_clocks_differ(clock_offset, reason, words):
    # What the log line says: a token signed for the plugin's 15 minutes by a clock `clock_offset` s off the app's.
    token = sign_jwt(SECRET, USER_ID, now=time.time() + clock_offset)
    with pytest.raises(JWTRejected) as raised:
        verify_call_jwt("Bearer " + token, SECRET)
    assert raised.value.reason == reason
    said = re.search(r"clock is about (\d+) s (ahead of|behind)", str(raised.value))
    assert said and said.group(2) == words and abs(int(said.group(1)) - abs(clock_offset)) <= 2, str(raised.value)


def test_the_leeway_is_bounded():
    token = hs({"exp": int(time.time()) - 20})
    with pytest.raises(JWTRejected, match="expired"):
        verify_call_jwt(f"Bearer {token}", SECRET, leeway=10)
    assert verify_call_jwt(f"Bearer {token}", SECRET, leeway=30)["exp"] < time.time()


@pytest.mark.parametrize(
    ("claims", "acting_user_id", "refused"),
    [
        ({"exp": 1, "acting_user_id": USER_ID}, USER_ID, False),
        ({"exp": 1, "acting_user_id": USER_ID}, "b0bb0bb0bb0bb0bb0bb0bb0bb0", True),
        ({"exp": 1}, USER_ID, True),
        ({"exp": 1, "acting_user_id": USER_ID}, "", True),
        ({"exp": 1}, "", False),
    ],
    ids=["same user", "another user", "a body user the JWT does not name", "a JWT user with no body user", "no acting user"],
)
def test_the_acting_user_must_match_the_jwt(claims, acting_user_id, refused):
    if refused:
        with pytest.raises(JWTRejected, match="acting_user_mismatch"):
            check_acting_user(claims, acting_user_id)
    else:
        check_acting_user(claims, acting_user_id)


def test_the_plugins_own_lifetime_is_accepted_at_the_edge_of_the_leeway():
    assert verify_call_jwt("Bearer " + hs({"exp": int(time.time()) + 15 * 60 + 5}), SECRET, leeway=10)
