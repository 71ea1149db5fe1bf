"""Stateless PKCE (RFC 7636, S256): the code verifier is an HMAC of the plugin's OAuth2 state.

`/oauth2/connect` and `/oauth2/complete` are two calls, possibly served by two replicas, and both carry the
same `values.state` (the plugin makes it single-use and binds it to the user). Deriving the verifier from
it with a key only the app holds means nothing is stored between the two calls, and someone who sees the
state (it travels in the browser's URLs) still cannot compute the verifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def code_verifier(key: bytes, state: str) -> str:
    """43 characters from the unreserved set, as RFC 7636 §4.1 asks."""
    return _b64url(hmac.new(key, b"pkce-verifier:" + state.encode("utf-8"), hashlib.sha256).digest())


def code_challenge(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
