"""Verification of the `Mattermost-App-Authorization` JWT the Apps plugin signs each call with.

The plugin signs with HS256 and the secret the admin typed as "Outgoing JWT Secret" at install; the claims
are `exp` (now + 15 min) and `acting_user_id` (only when `acting_user` was expanded).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
import time
from typing import Any

import jwt
from jwt.algorithms import HMACAlgorithm

HEADER = "Mattermost-App-Authorization"
ALGORITHM = "HS256"
MAX_LEEWAY_SECONDS = 30


class JWTRejected(Exception):
    """The call's JWT is missing or invalid; str(exc) is one sentence for the admin and the user."""


_SECRET_HINT = (  # a sentence, not a secret
    "check that the install dialog's \"Outgoing JWT Secret\" is the app's APP_SECRET "  # noqa: S105
    "(reinstall with /apps install to change it)"
)


def verify_call_jwt(header_value: str | None, secret: str, *, leeway: int = 10) -> dict[str, Any]:
    """Check the header's signature (HS256 only) and `exp`; return the claims."""
    if leeway > MAX_LEEWAY_SECONDS:
        raise ValueError(f"a JWT leeway over {MAX_LEEWAY_SECONDS}s would accept stale calls")
    if not header_value:
        raise JWTRejected(f"The call has no {HEADER} header: {_SECRET_HINT}, and that the manifest sets use_jwt.")
    scheme, _, token = header_value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise JWTRejected(f'The {HEADER} header must be "Bearer <jwt>".')
    claims = _plugin_shaped_claims(token.strip(), secret, leeway)
    if claims is not None:
        return claims
    try:
        claims = jwt.decode(
            token.strip(),
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp"], "verify_signature": True, "verify_exp": True},
            leeway=leeway,
        )
    except jwt.ExpiredSignatureError:
        raise JWTRejected(
            "The call's JWT has expired: check that the clocks of the Mattermost server and the app agree."
        ) from None
    except jwt.MissingRequiredClaimError:
        raise JWTRejected("The call's JWT has no exp claim, so it is refused.") from None
    except jwt.InvalidAlgorithmError:
        raise JWTRejected(f"The call's JWT is not signed with {ALGORITHM}, so it is refused.") from None
    except jwt.InvalidSignatureError:
        raise JWTRejected(f"The call's JWT signature does not match: {_SECRET_HINT}.") from None
    except jwt.InvalidTokenError:
        raise JWTRejected(f"The call's JWT is malformed: {_SECRET_HINT}.") from None
    if isinstance(claims["exp"], bool) or not isinstance(claims["exp"], int | float):
        # PyJWT would take "9999999999" as a number; RFC 7519 (and the plugin) say a NumericDate.
        raise JWTRejected("The call's JWT has an exp claim that is not a number, so it is refused.")
    acting_user_id = claims.get("acting_user_id", "")
    if not isinstance(acting_user_id, str):
        raise JWTRejected("The call's JWT has an acting_user_id that is not a string.")
    return claims


# -- the fast path ------------------------------------------------------------------------------------
# PyJWT spends ~30-70 µs a call, mostly on generic checks (per-character base64 validation in Python, key
# preparation, options merging); that was the largest cost of /bindings (docs/performance.md). The plugin's
# tokens always have one shape: header {"alg": "HS256", "typ": "JWT"}, claims `exp` (an integer) and
# `acting_user_id`. For exactly that shape, the checks PyJWT would make are made here directly; anything
# else, and any token that fails one check, goes to PyJWT, which then decides and words the refusal. So
# the fast path accepts only tokens PyJWT accepts, with the same claims (tests/unit/test_jwt_fast_path.py).

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_PLUGIN_HEADER_KEYS = frozenset({"alg", "typ"})
_PLUGIN_CLAIM_KEYS = frozenset({"exp", "acting_user_id"})


@functools.lru_cache(maxsize=8)
def _hmac_key(secret: str) -> bytes | None:
    """The key bytes, if PyJWT takes this secret as an HMAC key (it refuses empty, PEM-, SSH- and JWK-looking ones)."""
    try:
        return HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(secret)
    except jwt.InvalidKeyError:
        return None


def _b64url_canonical(segment: str) -> bytes | None:
    """The bytes of an unpadded, canonical base64url segment (PyJWT's rules), or None."""
    if len(segment) % 4 == 1 or not _B64URL.fullmatch(segment):
        return None
    data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    return data if base64.urlsafe_b64encode(data).rstrip(b"=") == segment.encode("ascii") else None


@functools.lru_cache(maxsize=16)
def _is_plugin_header(segment: str) -> bool:
    """Whether the header segment is canonical base64url of `{"alg": "HS256"}`, with `"typ": "JWT"` or no typ.

    The plugin sends the same header on every call, so this is decided once per distinct segment."""
    raw = _b64url_canonical(segment)
    if raw is None:
        return False
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return (
        isinstance(header, dict)
        and not header.keys() - _PLUGIN_HEADER_KEYS
        and header.get("alg") == ALGORITHM
        and header.get("typ", "JWT") == "JWT"
    )


def _plugin_shaped_claims(token: str, secret: str, leeway: float) -> dict[str, Any] | None:
    """The claims of a valid, unexpired token of the plugin's exact shape; None means "let PyJWT decide"."""
    segments = token.split(".")
    if len(segments) != 3 or not _is_plugin_header(segments[0]):
        return None
    payload, signature = _b64url_canonical(segments[1]), _b64url_canonical(segments[2])
    if payload is None or signature is None:
        return None
    key = _hmac_key(secret)
    signed = f"{segments[0]}.{segments[1]}".encode("ascii")
    # hmac.new(...).digest(), as PyJWT: the one-shot hmac.digest releases the GIL around a 1 µs computation, and
    # under gunicorn's threads taking it back costs far more than the HMAC itself.
    if key is None or not hmac.compare_digest(signature, hmac.new(key, signed, hashlib.sha256).digest()):
        return None
    try:
        claims = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    if not isinstance(claims, dict) or claims.keys() - _PLUGIN_CLAIM_KEYS:
        return None
    exp = claims.get("exp")
    if type(exp) is not int or exp <= time.time() - leeway:
        return None
    if not isinstance(claims.get("acting_user_id", ""), str):
        return None
    return claims


def check_acting_user(claims: dict[str, Any], acting_user_id: str) -> None:
    """When the call expands `acting_user`, the plugin puts that user's id in the JWT: they must agree."""
    if acting_user_id and claims.get("acting_user_id", "") != acting_user_id:
        raise JWTRejected("The call's acting user does not match its JWT, so it is refused.")
