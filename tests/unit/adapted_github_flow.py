"""The switch to GitHub that docs/adapting.md describes, end to end through the app's routes.

tests/unit/test_adapting.py runs this file inside a copy of the repository with the page's GitHub blocks applied, so
`AppProvider` is the page's `GitHub` there; it is not collected here, where the app keeps the provider it ships with.
The stand-in answers as GitHub documents: the token endpoint in JSON when asked (form-encoded otherwise), its errors
with HTTP 200, scopes separated by commas; `GET /user` with a numeric `id`, a `login` and a null `email`;
`DELETE /applications/{client_id}/grant` with HTTP basic auth and the token in a JSON body, answering 204.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from mattermost_apps.testing import DEFAULT_COMPLETE_EXPAND, DEFAULT_CONNECT_EXPAND, FakePlugin
from provider import AppProvider, Identity
from settings import Settings
from tests.conftest import ALICE, CLIENT_ID, CLIENT_SECRET, COMMAND, CONNECT_EXPAND, TOKEN_USE_EXPAND, make_settings, paths
from tests.unit.conftest import basic_auth, stored_bodies
from user_tokens import TokenCipher

STATE = "q1w2e3r4t5y6u7i8o9p0." + ALICE.id
CODE = "c0de5f1a2b3c4d5e6f70"
ACCESS_TOKEN = "gho_16C7e42F292c6912E7710c838347Ae178B4a"  # a made-up token
USER = {"login": "octocat", "id": 583231, "type": "User", "name": None, "email": None}
GRANT_URL = AppProvider.revoke_url.format(client_id=CLIENT_ID)


@pytest.fixture
def settings() -> Settings:
    """The provider class's own endpoints: the stand-in answers at GitHub's real URLs."""
    return make_settings(
        oauth2_authorize_url=AppProvider.authorize_url,
        oauth2_token_url=AppProvider.token_url,
        oauth2_revoke_url=AppProvider.revoke_url,
        oauth2_userinfo_url=AppProvider.userinfo_url,
    )


class GitHub:
    """GitHub's token endpoint, user API and grant deletion, on requests-mock."""

    def __init__(self, requests_mock: Any, *, form_encoded: bool) -> None:
        self.form_encoded = form_encoded  # answer form-encoded even when JSON is asked for
        self.token = requests_mock.post(AppProvider.token_url, text=self.exchange)
        self.user = requests_mock.get(AppProvider.userinfo_url, json=self.read_user)
        self.grant = requests_mock.delete(GRANT_URL, status_code=204, text="")

    def exchange(self, request: Any, context: Any) -> str:
        form = {name: values[0] for name, values in parse_qs(request.text).items()}
        authenticated = request.headers.get("Authorization") == basic_auth(CLIENT_ID, CLIENT_SECRET) or (
            form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET
        )
        answer: dict[str, str]
        if not authenticated:
            answer = {
                "error": "incorrect_client_credentials",
                "error_description": "The client_id and/or client_secret are wrong.",
            }
        elif form.get("grant_type") != "authorization_code" or form.get("code") != CODE or not form.get("code_verifier"):
            answer = {"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."}
        else:
            answer = {"access_token": ACCESS_TOKEN, "scope": "read:user,user:email", "token_type": "bearer"}
        context.status_code = 200  # GitHub answers its errors with 200 too
        if "application/json" in request.headers.get("Accept", "") and not self.form_encoded:
            context.headers["Content-Type"] = "application/json; charset=utf-8"
            return json.dumps(answer)
        context.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
        return urlencode(answer)

    def read_user(self, request: Any, context: Any) -> dict[str, Any]:
        if request.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            context.status_code = 401
            return {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
        return USER


def connect_and_complete(plugin: FakePlugin, requests_mock: Any, code: str = CODE) -> dict[str, Any]:
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    link = plugin.call(COMMAND["connect"].path, CONNECT_EXPAND)
    assert link["type"] == "ok" and "/oauth2/remote/connect" in link["text"], link
    url = urlsplit(plugin.call(paths.OAUTH2_CONNECT, DEFAULT_CONNECT_EXPAND, values={"state": STATE})["data"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == AppProvider.authorize_url
    query = parse_qs(url.query)
    assert query["client_id"] == [CLIENT_ID] and query["state"] == [STATE]
    assert query["scope"] == [" ".join(AppProvider.scopes)]
    # GitHub sends the browser back with the code and the state only.
    result = plugin.call(paths.OAUTH2_COMPLETE, DEFAULT_COMPLETE_EXPAND, values={"state": STATE, "code": code})
    stored = [r for r in requests_mock.request_history if r.method == "POST" and r.url.endswith("/oauth2/user")]
    if stored:
        plugin.stored[ALICE.id] = stored[-1].body
    return result


@pytest.mark.parametrize("form_encoded", [False, True], ids=["json", "form-encoded"])
def test_connect_complete_info_disconnect(plugin, requests_mock, mattermost, settings, form_encoded):
    github = GitHub(requests_mock, form_encoded=form_encoded)

    assert connect_and_complete(plugin, requests_mock) == {"type": "ok"}
    assert "application/json" in github.token.last_request.headers["Accept"]
    record = TokenCipher(settings.token_keys).open(stored_bodies(requests_mock)[-1], user_id=ALICE.id)
    assert record.identity == Identity(sub="583231", email="", name="octocat")
    assert (record.access_token, record.refresh_token, record.expires_at) == (ACCESS_TOKEN, None, None)
    assert record.scope == "read:user user:email"

    info = plugin.call(COMMAND["info"].path, TOKEN_USE_EXPAND)
    assert info["type"] == "ok" and "octocat" in info["text"] and "583231" in info["text"], info

    result = plugin.call(COMMAND["disconnect"].path, COMMAND["disconnect"].expand)
    assert result == {
        "type": "ok",
        "text": f"Disconnected your {AppProvider.name} account **octocat**.",
        "refresh_bindings": True,
    }
    revoke = github.grant.last_request
    assert revoke.headers["Authorization"] == basic_auth(CLIENT_ID, CLIENT_SECRET)
    assert json.loads(revoke.body) == {"access_token": ACCESS_TOKEN}
    assert stored_bodies(requests_mock)[-1] is None  # the record is cleared


def test_an_error_answered_with_http_200_connects_nothing(plugin, requests_mock, mattermost, caplog):
    github = GitHub(requests_mock, form_encoded=False)
    result = connect_and_complete(plugin, requests_mock, code="an-expired-code")
    assert result["type"] == "error", result
    assert "rejected (bad_verification_code)" in caplog.text  # GitHub's code, read from the 200 answer
    assert github.token.called and not github.user.called
    assert stored_bodies(requests_mock) == []


def test_a_network_failure_of_the_revocation_still_disconnects(plugin, requests_mock, mattermost):
    GitHub(requests_mock, form_encoded=False)
    assert connect_and_complete(plugin, requests_mock) == {"type": "ok"}
    requests_mock.delete(GRANT_URL, exc=requests.ConnectionError)
    result = plugin.call(COMMAND["disconnect"].path, COMMAND["disconnect"].expand)
    assert result["type"] == "ok", result
    assert "did not confirm" in result["text"] and AppProvider.manage_access_url in result["text"]
    assert stored_bodies(requests_mock)[-1] is None
