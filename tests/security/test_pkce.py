"""Item 2: stateless PKCE (S256). The verifier is an HMAC of the plugin's state under a key derived from APP_SECRET."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from urllib.parse import parse_qs, urlsplit

from app import create_app
from mattermost_apps.testing import DEFAULT_COMPLETE_EXPAND, DEFAULT_CONNECT_EXPAND, FakePlugin
from tests.conftest import (
    ALICE,
    APPS_API,
    CLIENT_ID,
    CLIENT_SECRET,
    SITE_URL,
    TOKEN_URL,
    USERINFO_URL,
    fake_plugin,
    make_settings,
)

STATE = "AbCdEfGhIjKlMnOpQrSt." + ALICE.id
OTHER_STATE = "ZyXwVuTsRqPoNmLkJiHg." + ALICE.id


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def plugin_for(installed, **settings) -> FakePlugin:
    plugin = fake_plugin(create_app(make_settings(**settings)).test_client(), installed)
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    return plugin


def challenge_at_connect(plugin: FakePlugin, state: str) -> str:
    answer = plugin.call("/oauth2/connect", DEFAULT_CONNECT_EXPAND, values={"state": state})
    query = parse_qs(urlsplit(answer["data"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["state"] == [state]
    return query["code_challenge"][0]


def verifier_at_complete(plugin: FakePlugin, requests_mock, state: str) -> str:
    token = requests_mock.post(TOKEN_URL, json={"access_token": "ya29.x", "refresh_token": "1//y", "expires_in": 3599})
    requests_mock.get(USERINFO_URL, json={"sub": "1", "email": "alice@gmail.com"})
    requests_mock.post(APPS_API + "/oauth2/user", text="")
    requests_mock.post(SITE_URL + "/api/v4/channels/direct", json={"id": "dm"})
    requests_mock.post(SITE_URL + "/api/v4/posts", json={"id": "p"})
    answer = plugin.call("/oauth2/complete", DEFAULT_COMPLETE_EXPAND, values={"state": state, "code": "4/0Acode"})
    assert answer == {"type": "ok"}, answer
    return parse_qs(token.last_request.body)["code_verifier"][0]


def test_the_verifier_sent_with_the_code_matches_the_challenge_sent_at_connect(plugin, requests_mock):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    challenge = challenge_at_connect(plugin, STATE)
    verifier = verifier_at_complete(plugin, requests_mock, STATE)
    assert s256(verifier) == challenge
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", verifier)  # RFC 7636 §4.1: 43-128 unreserved characters
    # Someone who saw the state (it travels in browser URLs) cannot derive the verifier without the app's key.
    assert verifier not in (STATE, s256(STATE)) and STATE not in verifier


def test_the_challenge_differs_per_state(plugin):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    assert challenge_at_connect(plugin, STATE) != challenge_at_connect(plugin, OTHER_STATE)


def test_another_app_secret_gives_another_verifier(installed, requests_mock):
    other_secret = "a-different-app-secret-0123456789abcdef"
    one = plugin_for(installed)
    two = plugin_for(dataclasses.replace(installed, secret=other_secret), app_secret=other_secret)
    assert challenge_at_connect(one, STATE) != challenge_at_connect(two, STATE)
    assert verifier_at_complete(one, requests_mock, STATE) != verifier_at_complete(two, requests_mock, STATE)


def test_connect_on_one_replica_and_complete_on_another(installed, requests_mock):
    """Two app objects with the same settings share nothing in memory: the verifier is recomputed from the state."""
    first, second = plugin_for(installed), plugin_for(installed)
    assert first.client.application is not second.client.application
    challenge = challenge_at_connect(first, STATE)
    assert s256(verifier_at_complete(second, requests_mock, STATE)) == challenge


def test_the_pkce_key_does_not_depend_on_the_token_encryption_key(installed):
    from cryptography.fernet import Fernet

    one = plugin_for(installed, token_encryption_keys=(Fernet.generate_key().decode(),))
    two = plugin_for(installed, token_encryption_keys=(Fernet.generate_key().decode(),))
    assert challenge_at_connect(one, STATE) == challenge_at_connect(two, STATE)
