"""A small, provider-independent toolkit for Mattermost Apps (plugin `com.mattermost.apps` v1.2.2) in Python.

It imports nothing from the app around it: copy the folder into another project to build another App. Its errors
carry reason codes and no wording; the app turns them into sentences (`CallRouter.install(..., explain=...)`).
`mattermost_apps.testing` builds and signs CallRequests exactly as the plugin does, for your tests.
"""

from .calls import BadCallRequest, CallRequest, CallResponse, Context, OAuth2Context, error, form, lookup, navigate, ok
from .client import AppsClient, ClientFactory, MattermostError
from .flask_calls import CallRouter, CallTooLarge, after_response, current_call
from .forms import Binding, Call, Field, Form, Option, slash_commands
from .http import new_session
from .jwt_auth import JWTRejected, verify_call_jwt
from .paths import forbidden_call_paths

__all__ = [
    "AppsClient",
    "BadCallRequest",
    "Binding",
    "Call",
    "CallRequest",
    "CallResponse",
    "CallRouter",
    "CallTooLarge",
    "ClientFactory",
    "Context",
    "Field",
    "Form",
    "JWTRejected",
    "MattermostError",
    "OAuth2Context",
    "Option",
    "after_response",
    "current_call",
    "error",
    "forbidden_call_paths",
    "form",
    "lookup",
    "navigate",
    "new_session",
    "ok",
    "slash_commands",
    "verify_call_jwt",
]
