"""The JWT fast path (mattermost_apps/jwt_auth.py) accepts only what PyJWT accepts, with the same claims.

It exists for speed (docs/performance.md); PyJWT stays the judge of every token the fast path does not take.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mattermost_apps.jwt_auth import _plugin_shaped_claims, verify_call_jwt
from mattermost_apps.testing import sign_jwt

SECRET = "fast-path-secret-0123456789abcdef-0123456789"
LEEWAY = 10


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(header: Any, claims: Any, secret: str = SECRET, *, tweak: str = "") -> str:
    h = b64(json.dumps(header).encode())
    p = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(secret.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest())
    token = f"{h}.{p}.{sig}"
    if tweak == "pad":
        token += "="
    elif tweak == "noncanonical":  # the last character's two unused bits set: same bytes, other text
        last = sig[-1]
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        token = token[:-1] + alphabet[(alphabet.index(last) & ~3) | 1]
    elif tweak == "junk":
        token = token[:5] + "!" + token[6:]
    elif tweak == "extra":
        token += "." + sig
    elif tweak == "space":
        token = token.replace(".", ". ", 1)
    return token


def pyjwt_decode(token: str, secret: str = SECRET) -> dict[str, Any] | None:
    try:
        return jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["exp"], "verify_signature": True, "verify_exp": True},
            leeway=LEEWAY,
        )
    except jwt.PyJWTError:
        return None


def test_the_plugins_tokens_take_the_fast_path_with_pyjwts_claims():
    for acting in ("", "a1icea1icea1icea1icea1icea"):
        token = sign_jwt(SECRET, acting)
        fast = _plugin_shaped_claims(token, SECRET, LEEWAY)
        assert fast is not None and fast == pyjwt_decode(token)
        assert verify_call_jwt("Bearer " + token, SECRET) == fast


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----",
        "ssh-rsa AAAAB3NzaC1yc2E",
        '{"kty": "oct", "k": "c2VjcmV0"}',
    ],
)
def test_secrets_pyjwt_refuses_never_take_the_fast_path(secret):
    token = make_token({"alg": "HS256", "typ": "JWT"}, {"exp": int(time.time()) + 900}, secret)
    assert _plugin_shaped_claims(token, secret, LEEWAY) is None


headers = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["HS256", "HS384", "none", "hs256", ""]),
        "typ": st.sampled_from(["JWT", "jwt", "JOSE", ""]),
        "kid": st.sampled_from(["k1", 1]),
        "crit": st.just(["b64"]),
        "b64": st.booleans(),
    },
) | st.sampled_from([[], "x", None, 1])
exps = st.one_of(
    st.integers(min_value=-LEEWAY - 5, max_value=LEEWAY + 5).map(lambda d: int(time.time()) + d),
    st.just(int(time.time()) + 900),
    st.floats(allow_nan=False),
    st.sampled_from(["9999999999", True, None, 1e300, 2**70]),
)
claim_sets = st.fixed_dictionaries(
    {},
    optional={
        "exp": exps,
        "acting_user_id": st.sampled_from(["a1icea1icea1icea1icea1icea", "", 7, None]),
        "iat": st.sampled_from([int(time.time()), int(time.time()) + 3600, "x"]),
        "nbf": st.sampled_from([int(time.time()), int(time.time()) + 3600]),
        "aud": st.just("someone"),
        "sub": st.sampled_from(["s", 1]),
    },
) | st.sampled_from([[], "x", None, 5])


@settings(max_examples=400, deadline=None)
@given(
    header=headers,
    claims=claim_sets,
    right_secret=st.booleans(),
    tweak=st.sampled_from(["", "", "", "pad", "noncanonical", "junk", "extra", "space"]),
)
def test_the_fast_path_accepts_only_what_pyjwt_accepts(header, claims, right_secret, tweak):
    token = make_token(header, claims, SECRET if right_secret else SECRET + "x", tweak=tweak)
    fast = _plugin_shaped_claims(token, SECRET, LEEWAY)
    if fast is not None:
        assert pyjwt_decode(token) == fast
