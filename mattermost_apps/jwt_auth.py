"""Verification of the `Mattermost-App-Authorization` JWT the Apps plugin signs each call with.

The plugin signs with HS256 and the secret the admin typed as "Outgoing JWT Secret" at install; the claims
are `exp` (now + 15 min) and `acting_user_id` (only when `acting_user` was expanded).
"""

from __future__ import annotations

from typing import Any

import jwt

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
        raise JWTRejected(f"The {HEADER} header must be \"Bearer <jwt>\".")
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
    acting_user_id = claims.get("acting_user_id", "")
    if not isinstance(acting_user_id, str):
        raise JWTRejected("The call's JWT has an acting_user_id that is not a string.")
    return claims


def check_acting_user(claims: dict[str, Any], acting_user_id: str) -> None:
    """When the call expands `acting_user`, the plugin puts that user's id in the JWT: they must agree."""
    if acting_user_id and claims.get("acting_user_id", "") != acting_user_id:
        raise JWTRejected("The call's acting user does not match its JWT, so it is refused.")
