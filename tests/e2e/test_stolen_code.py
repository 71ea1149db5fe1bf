"""Against the real oidc-provider (which verifies PKCE whenever a challenge was sent):
someone who copies the provider's redirect (browser history, a proxy log, a shoulder) gets the code and the state,
and may even hold the client secret (every user's call carries it): without the app's key they cannot compute
the code verifier, so the provider will not exchange the code for them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from provider import pkce
from tests.conftest import derived_keys
from tests.names import CMD

from .harness import CLIENT_ID, CLIENT_SECRET, Stack, UserAgent, complete_url, connect_link

pytestmark = pytest.mark.e2e


def test_a_stolen_code_cannot_be_exchanged_without_the_verifier(configured: Stack, alice: UserAgent) -> None:
    emulator, provider = configured.emulator, configured.provider
    redirect = alice.authorize(connect_link(emulator.command("alice", f"{CMD} connect")), provider_login="alice")
    query = parse_qs(urlsplit(redirect).query)
    code, state = query["code"][0], query["state"][0]

    for verifier in (None, state, "A" * 43):  # no verifier; the state itself; a guess
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": complete_url(emulator.site_url)}
        if verifier is not None:
            data["code_verifier"] = verifier
        stolen = requests.post(provider.url + "/token", data=data, auth=(CLIENT_ID, CLIENT_SECRET), timeout=10)
        assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant", stolen.text
    assert configured.stored_record("alice") is None

    # The control: the code itself was good. Whoever holds APP_SECRET (the app) computes the verifier and it works.
    verifier = pkce.code_verifier(derived_keys(configured.app_secret).pkce_key, state)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": complete_url(emulator.site_url),
        "code_verifier": verifier,
    }
    assert requests.post(provider.url + "/token", data=data, auth=(CLIENT_ID, CLIENT_SECRET), timeout=10).status_code == 200
