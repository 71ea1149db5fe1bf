"""The app with a provider class that says nothing about refresh-token rotation (as an author's new provider class
would start), for `gunicorn tests.e2e.rotating_app:app`: its class takes `rotates_refresh_tokens` from the generic
`OAuth2Provider`, whatever that default is, and everything else from the app's provider."""

from __future__ import annotations

import services
from app import create_app
from provider import AppProvider, OAuth2Provider


class UndeclaredRotation(AppProvider):
    rotates_refresh_tokens = OAuth2Provider.rotates_refresh_tokens


services.AppProvider = UndeclaredRotation  # type: ignore[misc]
app = create_app()
