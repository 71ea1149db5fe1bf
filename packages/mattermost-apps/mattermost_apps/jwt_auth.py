"""Verification of the `Mattermost-App-Authorization` JWT the Apps plugin signs each call with, through PyJWT.

The plugin signs with HS256 and the secret the admin typed as "Outgoing JWT Secret" at install; the claims
are `exp` (now + 15 min) and `acting_user_id` (only when `acting_user` was expanded).
"""

from __future__ import annotations

import time
from typing import Any

import jwt

HEADER = "Mattermost-App-Authorization"
ALGORITHM = "HS256"
# How far the Mattermost server's clock may be from the app's, either way: a server whose clock runs ahead signs
# tokens that look longer-lived than 15 minutes, one whose clock lags signs tokens that look expired early.
CLOCK_SKEW_SECONDS = 120
MAX_LEEWAY_SECONDS = CLOCK_SKEW_SECONDS
PLUGIN_TOKEN_LIFETIME = 15 * 60  # the plugin signs every call for exactly this long (`upstream/uphttp/upstream.go`)


class JWTRejected(Exception):
    """The call's JWT is missing or invalid.

    `reason`: `missing_header`, `bad_scheme` (not "Bearer <jwt>"), `expired`, `missing_exp`, `bad_exp` (not a number),
    `exp_too_far` (valid for longer than the plugin ever signs), `bad_algorithm`, `bad_signature`, `malformed`,
    `bad_acting_user_id` (not a string), `acting_user_mismatch`.
    `clock_offset`, for `expired` and `exp_too_far`: how many seconds the Mattermost server's clock would be ahead of
    the app's (negative: behind) had the plugin just signed the token, which is what an admin needs to know.
    """

    def __init__(self, reason: str, *, clock_offset: int | None = None) -> None:
        self.reason = reason
        self.clock_offset = clock_offset
        super().__init__(reason)

    def __str__(self) -> str:
        if self.clock_offset is None:
            return self.reason
        way = "ahead of" if self.clock_offset > 0 else "behind"
        return (
            f"{self.reason}: the Mattermost server's clock is about {abs(self.clock_offset)} s {way} the app's "
            f"(more than the {CLOCK_SKEW_SECONDS} s allowed), or the token was not signed for this call just now; "
            "set both clocks by NTP"
        )


def verify_call_jwt(header_value: str | None, secret: str, *, leeway: int = CLOCK_SKEW_SECONDS) -> dict[str, Any]:
    """Check the header's signature (HS256 only) and `exp`, with `leeway` seconds of clock difference either way;
    return the claims."""
    if leeway > MAX_LEEWAY_SECONDS:
        raise ValueError(f"a JWT leeway over {MAX_LEEWAY_SECONDS}s would accept stale calls")
    if not header_value:
        raise JWTRejected("missing_header")
    scheme, _, token = header_value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise JWTRejected("bad_scheme")
    try:
        claims = jwt.decode(token.strip(), secret, algorithms=[ALGORITHM], options={"require": ["exp"]}, leeway=leeway)
    except jwt.ExpiredSignatureError:
        # Raised only once the signature is checked: the exp read here was signed with the secret.
        exp = float(jwt.decode(token.strip(), options={"verify_signature": False})["exp"])
        raise JWTRejected("expired", clock_offset=_offset(exp)) from None
    except jwt.MissingRequiredClaimError:
        raise JWTRejected("missing_exp") from None
    except jwt.InvalidAlgorithmError:
        raise JWTRejected("bad_algorithm") from None
    except jwt.InvalidSignatureError:
        raise JWTRejected("bad_signature") from None
    except jwt.PyJWTError:  # malformed token, other claims (nbf, iat, aud) refused, or a secret PyJWT cannot use
        raise JWTRejected("malformed") from None
    if isinstance(claims["exp"], bool) or not isinstance(claims["exp"], int | float):
        # PyJWT takes "9999999999" for a number; RFC 7519 (and the plugin) say a NumericDate.
        raise JWTRejected("bad_exp")
    if claims["exp"] > time.time() + PLUGIN_TOKEN_LIFETIME + leeway:
        # A token valid for longer than the plugin signs was not signed by the plugin for this call: someone holding
        # the secret minted a long-lived one.
        raise JWTRejected("exp_too_far", clock_offset=_offset(claims["exp"]))
    if not isinstance(claims.get("acting_user_id", ""), str):
        raise JWTRejected("bad_acting_user_id")
    return claims


def _offset(exp: float) -> int:
    """The Mattermost clock's offset from the app's, were `exp` signed just now (the plugin signs now + 15 min)."""
    return round(exp - PLUGIN_TOKEN_LIFETIME - time.time())


def check_acting_user(claims: dict[str, Any], acting_user_id: str) -> None:
    """When the call expands `acting_user`, the plugin puts that user's id in the JWT, and only then: they must agree,
    both ways (a JWT that names a user signs a call for that user, not a call with no acting user)."""
    if claims.get("acting_user_id", "") != acting_user_id:
        raise JWTRejected("acting_user_mismatch")
