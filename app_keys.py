"""Keys the app derives from its one secret (APP_SECRET), one per purpose, with HKDF-SHA256.

Deriving separate keys means the JWT secret, the PKCE key and the token-encryption key never double as
each other, and an admin has one secret to keep.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SALT = b"mattermost-app-google-oauth2"


def derive_key(app_secret: str, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=purpose.encode()).derive(app_secret.encode())


def derive_fernet_key(app_secret: str) -> str:
    return base64.urlsafe_b64encode(derive_key(app_secret, "token-encryption")).decode("ascii")
