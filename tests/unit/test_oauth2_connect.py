"""`POST /oauth2/connect`: the provider authorization URL the plugin 307-redirects the browser
to, with stateless PKCE derived from the plugin's state (handlers/oauth2.py, provider/pkce.py)."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from app import create_app
from handlers import messages
from mattermost_apps.testing import DEFAULT_COMPLETE_EXPAND, DEFAULT_CONNECT_EXPAND
from provider import AppProvider, pkce
from tests.conftest import AUTHORIZE_URL, CLIENT_ID, CLIENT_SECRET, TOKEN_URL, USERINFO_URL, make_settings, paths
from tests.names import CMD

from .conftest import COMPLETE_URL, STATE


def connect(plugin, state=STATE, expand=DEFAULT_CONNECT_EXPAND):
    values = {"state": state} if state is not None else None
    return plugin.call(paths.OAUTH2_CONNECT, expand, values=values)


def query_of(url):
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query, strict_parsing=True).items()}


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_answers_ok_with_the_authorization_url_as_a_string(plugin, requests_mock):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    result = connect(plugin)
    assert result["type"] == "ok"
    assert isinstance(result["data"], str)  # the plugin 500s on any other data type
    url = urlsplit(result["data"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == AUTHORIZE_URL
    assert requests_mock.request_history == []  # building a URL costs no round trip


def test_authorization_url_has_exactly_the_expected_parameters(plugin):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    query = query_of(connect(plugin)["data"])
    challenge = query.pop("code_challenge")
    assert query == {
        "client_id": CLIENT_ID,
        "redirect_uri": COMPLETE_URL,
        "response_type": "code",
        "scope": " ".join(AppProvider.scopes),
        "state": STATE,
        **AppProvider.authorization_params,  # the provider's own; the provider's tests check their values
        "code_challenge_method": "S256",
    }
    assert len(challenge) == 43


@pytest.mark.parametrize(
    "state",
    ["AbC-_0123456789abcdef." + "u" * 26, "a+b/c=d&e#f.user", "ü.ü"],
    ids=["plugin format", "url-special characters", "non-ascii"],
)
def test_state_is_passed_through_unchanged(plugin, state):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    assert query_of(connect(plugin, state=state)["data"])["state"] == state


def test_code_challenge_is_s256_of_the_verifier_derived_from_the_state(plugin, services):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    challenge = query_of(connect(plugin)["data"])["code_challenge"]
    assert challenge == s256(pkce.code_verifier(services.settings.pkce_key, STATE))


def test_verifier_sent_at_complete_is_the_one_whose_challenge_was_sent_at_connect(plugin, mattermost, requests_mock):
    # Two calls, maybe two replicas, nothing stored in between: the state alone must lead back to the verifier.
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    challenge = query_of(connect(plugin)["data"])["code_challenge"]
    token = requests_mock.post(TOKEN_URL, json={"access_token": "ya29.a", "expires_in": 3599, "token_type": "Bearer"})
    requests_mock.get(USERINFO_URL, json={"sub": "1"})
    result = plugin.call(paths.OAUTH2_COMPLETE, DEFAULT_COMPLETE_EXPAND, values={"state": STATE, "code": "4/0Abc"})
    assert result == {"type": "ok"}
    verifier = parse_qs(token.last_request.body)["code_verifier"][0]
    assert s256(verifier) == challenge


def test_a_second_replica_with_the_same_secret_derives_the_same_challenge(plugin, installed):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    first = query_of(connect(plugin)["data"])["code_challenge"]
    other_replica = create_app(make_settings()).test_client()
    plugin.client = other_replica
    assert query_of(connect(plugin)["data"])["code_challenge"] == first


def test_the_challenge_depends_on_the_state(plugin):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    first = query_of(connect(plugin, state="a" * 20 + ".u")["data"])["code_challenge"]
    second = query_of(connect(plugin, state="b" * 20 + ".u")["data"])["code_challenge"]
    assert first != second


def test_the_verifier_cannot_be_computed_from_the_state_alone(plugin):
    # Someone who sees the state in the browser's URLs does not hold the app's secret.
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    challenge = query_of(connect(plugin)["data"])["code_challenge"]
    other_app = create_app(make_settings(app_secret="a-different-app-secret-0123456789abcdef"))
    plugin.client = other_app.test_client()
    plugin.installed.secret = "a-different-app-secret-0123456789abcdef"
    assert query_of(connect(plugin)["data"])["code_challenge"] != challenge


def test_scopes_come_from_the_settings(plugin):
    plugin.client = create_app(make_settings(oauth2_scopes=("openid", "offline_access"))).test_client()
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    assert query_of(connect(plugin)["data"])["scope"] == "openid offline_access"


def test_verifier_has_the_rfc_7636_shape():
    verifier = pkce.code_verifier(b"k" * 32, STATE)
    assert len(verifier) == 43
    assert set(verifier) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


# -- failures -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "oauth2_app",
    [{}, {"client_secret": "s"}, {"client_id": ""}],
    ids=["nothing stored", "secret only", "empty client id"],
)
def test_not_configured_is_an_error_naming_configure(plugin, requests_mock, oauth2_app):
    plugin.installed.oauth2_app = oauth2_app
    result = connect(plugin)
    assert result == {"type": "error", "text": messages.text("not_configured")}
    assert f"{CMD} configure" in result["text"]


@pytest.mark.parametrize(
    "values",
    [None, {"state": ""}, {"state": "   "}, {"other": "x"}],
    ids=["no values", "empty state", "blank state", "no state key"],
)
def test_missing_state_is_an_error(plugin, values):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    result = plugin.call(paths.OAUTH2_CONNECT, DEFAULT_CONNECT_EXPAND, values=values)
    assert result["type"] == "error"
    assert "state" in result["text"] and f"{CMD} connect" in result["text"]


def test_without_oauth2_app_expand_the_redirect_uri_is_unknown(plugin):
    # A manifest that declared its own connect expand without oauth2_app would land here.
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    result = connect(plugin, expand={"acting_user": "summary"})
    assert result["type"] == "error"
