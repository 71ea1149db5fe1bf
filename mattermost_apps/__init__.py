"""A small, provider-independent toolkit for Mattermost Apps (plugin `com.mattermost.apps` v1.2.2) in Python.

Nothing here knows about Google: lift the package out to build another App.
"""

from .calls import BadCallRequest, CallRequest, CallResponse, Context, OAuth2Context, error, form, navigate, ok
from .client import AppsClient, MattermostError, MissingToken, PayloadTooLarge
from .flask_calls import CallRouter
from .jwt_auth import JWTRejected, verify_call_jwt

__all__ = [
    "AppsClient",
    "BadCallRequest",
    "CallRequest",
    "CallResponse",
    "CallRouter",
    "Context",
    "JWTRejected",
    "MattermostError",
    "MissingToken",
    "OAuth2Context",
    "PayloadTooLarge",
    "error",
    "form",
    "navigate",
    "ok",
    "verify_call_jwt",
]
