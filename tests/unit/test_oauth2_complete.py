"""`POST /oauth2/complete`: exchange the code, read the identity, store one encrypted record
with the acting user's token, confirm by DM; every failure stores nothing (handlers/oauth2.py)."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
import requests

from commands import COMMANDS
from handlers import messages
from mattermost_apps.testing import DEFAULT_COMPLETE_EXPAND
from provider import AppProvider, Identity, pkce
from tests.conftest import (
    ALICE,
    ALICE_TOKEN,
    BOT,
    BOT_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    ISSUER,
    REVOKE_URL,
    TOKEN_URL,
    USERINFO_URL,
    make_settings,
    paths,
)
from tests.names import APP_ID, CMD, PROVIDER

from .conftest import COMPLETE_URL, DM_CHANNEL_URL, OAUTH2_USER_URL, POSTS_URL, STATE, basic_auth, sent_to

JSON = {"Content-Type": "application/json; charset=utf-8"}  # providers type their error answers as JSON
CODE = "4/0AbCdEf-authorization-code"
ACCESS_TOKEN = "ya29.a0-new-access-token"
REFRESH_TOKEN = "1//0g-new-refresh-token"
ID_TOKEN = "eyJhbGciOiJSUzI1NiJ9." + "x" * 900 + ".sig"
TOKEN_ANSWER = {
    "access_token": ACCESS_TOKEN,
    "refresh_token": REFRESH_TOKEN,
    "expires_in": 3599,
    # Every scope the commands need, the sign-in scopes spelt as the provider's token answer spells them.
    "scope": " ".join(["openid", *AppProvider.scope_aliases, *(scope for command in COMMANDS for scope in command.scopes)]),
    "token_type": "Bearer",
    "id_token": ID_TOKEN,
}
USERINFO: dict[str, Any] = {"sub": "108700000000000000001", "email": "alice@gmail.com", "email_verified": True, "name": "Alice G"}


def complete(plugin, **values):
    values = {"state": STATE, "code": CODE, **values}
    return plugin.call(paths.OAUTH2_COMPLETE, DEFAULT_COMPLETE_EXPAND, values={k: v for k, v in values.items() if v is not None})


@pytest.fixture
def upstream(requests_mock):
    """The provider answering the exchange and userinfo as it does on success."""
    return SimpleNamespace(
        token=requests_mock.post(TOKEN_URL, json=TOKEN_ANSWER),
        userinfo=requests_mock.get(USERINFO_URL, json=USERINFO),
        revoke=requests_mock.post(REVOKE_URL, text=""),
    )


@pytest.fixture
def configured(plugin, requests_mock):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    requests_mock.get(OAUTH2_USER_URL, text="")  # what Mattermost holds for the user when asked: nothing yet
    return plugin


# -- success ------------------------------------------------------------------------------------------


def test_success_answers_ok(configured, upstream, mattermost):
    assert complete(configured) == {"type": "ok"}


def test_exchange_sends_the_code_redirect_uri_and_pkce_verifier(configured, upstream, mattermost, services):
    complete(configured)
    request = upstream.token.last_request
    assert upstream.token.call_count == 1
    assert parse_qs(request.body) == {
        "grant_type": ["authorization_code"],
        "code": [CODE],
        "redirect_uri": [COMPLETE_URL],
        "code_verifier": [pkce.code_verifier(services.settings.pkce_key, STATE)],
    }
    assert request.headers["Authorization"] == basic_auth(CLIENT_ID, CLIENT_SECRET)


def test_identity_is_read_with_the_new_access_token(configured, upstream, mattermost):
    complete(configured)
    assert upstream.userinfo.call_count == 1
    assert upstream.userinfo.last_request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"


def test_record_is_stored_with_the_acting_users_token(configured, upstream, mattermost):
    complete(configured)
    assert mattermost.oauth2_user.call_count == 1
    request = mattermost.oauth2_user.last_request
    assert request.headers["Authorization"] == f"Bearer {ALICE_TOKEN}"
    assert request.headers["Content-Type"] == "application/json"


def test_stored_record_is_encrypted_and_holds_what_refresh_needs_and_the_identity(configured, upstream, mattermost, cipher):
    complete(configured)
    raw = mattermost.oauth2_user.last_request.body.decode()
    (stored,) = [json.loads(r.body) for r in mattermost.oauth2_user.request_history]
    assert set(stored) == {"v", "fernet"}
    for secret in (ACCESS_TOKEN, REFRESH_TOKEN, CLIENT_SECRET, "alice@gmail.com"):
        assert secret not in raw
    record = cipher.open(stored, user_id=ALICE.id)
    assert record.access_token == ACCESS_TOKEN and record.refresh_token == REFRESH_TOKEN
    assert record.identity.sub == USERINFO["sub"] and record.identity.email == USERINFO["email"]
    assert record.scope == TOKEN_ANSWER["scope"]
    assert record.expires_at is not None


def test_stored_record_holds_no_client_secret_and_no_id_token(configured, upstream, mattermost, cipher):
    complete(configured)
    plaintext = json.dumps(cipher.open(json.loads(mattermost.oauth2_user.last_request.body), user_id=ALICE.id).to_json())
    assert CLIENT_SECRET not in plaintext
    assert ID_TOKEN not in plaintext and "id_token" not in plaintext


def test_record_with_tokens_at_large_provider_sizes_fits_in_8_kib(configured, requests_mock, mattermost):
    # Sizes as large as big providers document (access token 2048 bytes, refresh token 512), plus a large id_token
    # we do not keep.
    requests_mock.post(
        TOKEN_URL, json={**TOKEN_ANSWER, "access_token": "a" * 2048, "refresh_token": "r" * 512, "id_token": "i" * 4000}
    )
    requests_mock.get(USERINFO_URL, json={**USERINFO, "name": "N" * 200, "email": "e" * 200 + "@gmail.com"})
    assert complete(configured) == {"type": "ok"}
    assert len(mattermost.oauth2_user.last_request.body) <= 8192


def test_the_bot_confirms_by_direct_message(configured, upstream, mattermost):
    # The plugin's own completion page is tiny and unreadable on phones (plugin-apps #265).
    complete(configured)
    channel = mattermost.dm_channel.last_request
    assert channel.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert json.loads(channel.body) == [BOT.id, ALICE.id]
    post = mattermost.posts.last_request
    assert post.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    body = json.loads(post.body)
    assert body["channel_id"] == "dmchannel0000000000000000a"
    assert "**alice@gmail.com**" in body["message"] and "connected" in body["message"]


def test_dm_is_sent_after_the_record_is_stored(configured, upstream, mattermost, requests_mock):
    complete(configured)
    urls = [r.url for r in requests_mock.request_history]
    assert urls.index(OAUTH2_USER_URL) < urls.index(DM_CHANNEL_URL) < urls.index(POSTS_URL)


@pytest.mark.parametrize(
    "granted_scope",
    [
        "email profile",  # short names back
        "openid https://scopes.example.test/auth/userinfo.email https://scopes.example.test/auth/userinfo.profile "
        "https://scopes.example.test/auth/calendar.readonly",  # openid added, email/profile spelt as URLs
        "openid https://scopes.example.test/auth/userinfo.email",  # the user unticked calendar access
        "",
    ],
    ids=["short names", "renamed and added", "scope unticked", "no scope"],
)
def test_the_provider_adding_or_renaming_scopes_is_tolerated(configured, requests_mock, mattermost, cipher, granted_scope):
    # requests-oauthlib raises "Scope has changed" when the session knows the requested scopes.
    requests_mock.post(TOKEN_URL, json={**TOKEN_ANSWER, "scope": granted_scope})
    requests_mock.get(USERINFO_URL, json=USERINFO)
    assert complete(configured, scope="email profile openid") == {"type": "ok"}
    assert cipher.open(json.loads(mattermost.oauth2_user.last_request.body), user_id=ALICE.id).scope == granted_scope


def test_extra_redirect_parameters_are_ignored(configured, upstream, mattermost):
    result = complete(configured, scope="email", authuser="0", prompt="consent", iss=ISSUER, hd="example.com")
    assert result == {"type": "ok"}


def test_a_grant_without_refresh_token_is_stored_anyway(configured, requests_mock, mattermost, cipher):
    answer = {k: v for k, v in TOKEN_ANSWER.items() if k != "refresh_token"}
    requests_mock.post(TOKEN_URL, json=answer)
    requests_mock.get(USERINFO_URL, json=USERINFO)
    assert complete(configured) == {"type": "ok"}
    assert cipher.open(json.loads(mattermost.oauth2_user.last_request.body), user_id=ALICE.id).refresh_token is None


def test_reconnecting_replaces_the_previous_record(configured, upstream, mattermost, connect_user, cipher):
    connect_user(ALICE, access_token="ya29.old", refresh_token="1//old")
    assert complete(configured) == {"type": "ok"}
    assert cipher.open(json.loads(mattermost.oauth2_user.last_request.body), user_id=ALICE.id).refresh_token == REFRESH_TOKEN


# -- the DM is best effort ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "answer"),
    [
        (DM_CHANNEL_URL, {"status_code": 403, "text": "You do not have the appropriate permissions."}),
        (DM_CHANNEL_URL, {"exc": requests.ConnectionError}),
        (DM_CHANNEL_URL, {"json": {"no": "id"}}),
        (POSTS_URL, {"status_code": 500, "text": "oops"}),
    ],
    ids=["channel 403", "unreachable", "channel without id", "post 500"],
)
def test_a_failed_dm_does_not_fail_the_flow(configured, upstream, mattermost, requests_mock, url, answer):
    requests_mock.post(url, **answer)
    assert complete(configured) == {"type": "ok"}
    assert mattermost.oauth2_user.call_count == 1
    assert upstream.revoke.call_count == 0


def test_without_a_bot_token_the_flow_still_succeeds(configured, upstream, mattermost):
    configured.installed.permissions = ("act_as_user", "remote_oauth2")  # no act_as_bot: no bot token
    assert complete(configured) == {"type": "ok"}
    assert mattermost.oauth2_user.call_count == 1
    assert mattermost.dm_channel.call_count == 0


# -- the provider said no -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected_text"),
    [
        (
            {"error": "access_denied", "code": None},
            f"You did not allow access at {PROVIDER}, so your {PROVIDER} account was not connected.",
        ),
        (
            {"error": "access_denied", "error_description": "The user denied", "code": None},
            f"You did not allow access at {PROVIDER}, so your {PROVIDER} account was not connected.",
        ),
        (
            {"error": "admin_policy_enforced", "code": None},
            f"{PROVIDER} refused the sign-in (admin_policy_enforced), so your {PROVIDER} account was not connected.",
        ),
        (
            {"error": "invalid_scope", "code": None},
            f"{PROVIDER} refused the sign-in (invalid_scope), so your {PROVIDER} account was not connected.",
        ),
        # an error next to a code still wins: hello-oauth2 exchanged the code and ignored the error
        ({"error": "access_denied"}, f"You did not allow access at {PROVIDER}, so your {PROVIDER} account was not connected."),
        (
            {"error": "**bold** [x](https://evil.example)", "code": None},
            f"{PROVIDER} refused the sign-in (boldxhttpsevil.example), so your {PROVIDER} account was not connected.",
        ),
        ({"error": "<>%%", "code": None}, f"{PROVIDER} refused the sign-in, so your {PROVIDER} account was not connected."),
    ],
    ids=[
        "access_denied",
        "with description",
        "admin policy",
        "invalid_scope",
        "error next to a code",
        "markdown injection",
        "nothing printable",
    ],
)
def test_provider_error_is_an_error_and_nothing_is_exchanged_or_stored(
    configured, requests_mock, mattermost, values, expected_text
):
    # The plugin checks the state and forwards the provider's query whatever it says
    # (`InvokeCompleteRemoteOAuth2`, `server/proxy/invoke_oauth2.go`).
    result = complete(configured, **values)
    assert result == {"type": "error", "text": expected_text}
    # Nothing exchanged, nothing stored; only the bot's DM of the same sentence, after the answer: the plugin shows
    # it on a bare page a phone user may close unread.
    assert [(r.method, r.url) for r in requests_mock.request_history] == [("POST", DM_CHANNEL_URL), ("POST", POSTS_URL)]
    assert json.loads(mattermost.posts.last_request.body)["message"] == expected_text


@pytest.mark.parametrize(
    "values",
    [{"code": None}, {"code": ""}, {"code": "  "}, {"state": None}],
    ids=["no code", "empty code", "blank code", "no state"],
)
def test_missing_code_or_state_is_an_error_and_nothing_is_stored(configured, requests_mock, values):
    result = complete(configured, **values)
    assert result["type"] == "error"
    assert f"{CMD} connect" in result["text"] and "not connected" in result["text"]
    assert requests_mock.request_history == []


def test_not_configured_is_an_error_and_nothing_is_exchanged(plugin, requests_mock):
    result = complete(plugin)
    assert result == {"type": "error", "text": messages.text("not_configured")}
    assert requests_mock.request_history == []


# -- the exchange fails ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected_text"),
    [
        (
            {"status_code": 400, "json": {"error": "invalid_grant", "error_description": "Bad Request"}, "headers": JSON},
            f"{PROVIDER} did not accept the grant (it expired, was revoked or was already used): run {CMD} connect again.",
        ),
        (
            {"status_code": 401, "json": {"error": "invalid_client", "error_description": "Unauthorized"}, "headers": JSON},
            f"{PROVIDER} rejected the app's OAuth2 client ID or secret: ask a system admin to check {CMD} configure.",
        ),
        (
            {"status_code": 400, "json": {"error": "redirect_uri_mismatch"}, "headers": JSON},
            f"{PROVIDER} gave an answer the app could not use while trying to exchange the authorization code; please try again.",
        ),
        (
            {"status_code": 400, "json": {"error": "invalid_grant"}, "headers": {"Content-Type": "text/html"}},
            f"{PROVIDER} gave an answer the app could not use while trying to exchange the authorization code; please try again.",
        ),
        (
            {"status_code": 500, "text": "<html>Server Error</html>"},
            f"{PROVIDER} could not be reached to exchange the authorization code; please try again in a minute.",
        ),
        (
            {"status_code": 503, "json": {"error": "unavailable"}, "headers": JSON},
            f"{PROVIDER} could not be reached to exchange the authorization code; please try again in a minute.",
        ),
        (
            {"exc": requests.exceptions.ConnectTimeout},
            f"{PROVIDER} could not be reached to exchange the authorization code; please try again in a minute.",
        ),
        (
            {"exc": requests.exceptions.ReadTimeout},
            f"{PROVIDER} could not be reached to exchange the authorization code; please try again in a minute.",
        ),
        (
            {"status_code": 200, "text": "<html>not json</html>", "headers": {"Content-Type": "text/html"}},
            f"{PROVIDER} gave an answer the app could not use while trying to exchange the authorization code; please try again.",
        ),
        (
            {"status_code": 200, "json": {"token_type": "Bearer"}},
            f"{PROVIDER} gave an answer the app could not use while trying to exchange the authorization code; please try again.",
        ),
    ],
    ids=[
        "invalid_grant",
        "invalid_client",
        "other oauth2 error",
        "400 html",
        "500 html",
        "503",
        "connect timeout",
        "read timeout",
        "not json",
        "no access_token",
    ],
)
def test_failed_exchange_is_one_clear_sentence_and_nothing_is_stored(configured, requests_mock, answer, expected_text):
    # hello-oauth2 ignored the exchange error and stored a null token.
    token = requests_mock.post(TOKEN_URL, **answer)
    result = complete(configured)
    assert result == {"type": "error", "text": expected_text}
    assert token.call_count == 1  # a POST that may have reached the provider is never replayed
    assert [r.url for r in requests_mock.request_history] == [TOKEN_URL]  # no userinfo, no store, no DM


# -- after the exchange: userinfo or the store fails, and the fresh grant is revoked ---------------------


@pytest.mark.parametrize(
    ("answer", "expected_text"),
    [
        (
            {"status_code": 401, "json": {"error": "invalid_token"}},
            f"{PROVIDER} did not accept your access token: run {CMD} connect again. Your {PROVIDER} account was not connected.",
        ),
        (
            {"status_code": 500, "text": "boom"},
            f"{PROVIDER} could not be reached to read your profile; please try again in a minute. "
            f"Your {PROVIDER} account was not connected.",
        ),
        (
            {"exc": requests.exceptions.ReadTimeout},
            f"{PROVIDER} could not be reached to read your profile; please try again in a minute. "
            f"Your {PROVIDER} account was not connected.",
        ),
        (
            {"json": {"email": "alice@gmail.com"}},
            f"{PROVIDER} gave an answer the app could not use while trying to read your profile; please try again. "
            f"Your {PROVIDER} account was not connected.",
        ),
    ],
    ids=["401", "500", "timeout", "no sub"],
)
def test_userinfo_failure_stores_nothing_and_revokes_the_fresh_grant(configured, requests_mock, upstream, answer, expected_text):
    requests_mock.get(USERINFO_URL, **answer)
    result = complete(configured)
    assert result == {"type": "error", "text": expected_text}
    assert sent_to(requests_mock, OAUTH2_USER_URL) == []
    assert upstream.revoke.call_count == 1
    assert parse_qs(upstream.revoke.last_request.body) == {"token": [REFRESH_TOKEN]}
    assert upstream.revoke.last_request.headers["Authorization"] == basic_auth(CLIENT_ID, CLIENT_SECRET)


@pytest.mark.parametrize(
    ("answer", "expected_text"),
    [
        (
            {"status_code": 500, "text": "size limit of 8Kb exceeded"},
            "Mattermost failed to store your connection (HTTP 500); please try again. "
            f"Your {PROVIDER} account was not connected.",
        ),
        (
            {"status_code": 401, "text": "not an app session: unauthorized"},
            f"Mattermost refused to store your connection (HTTP 401). Your {PROVIDER} account was not connected.",
        ),
        (
            {"status_code": 401, "text": f"@{APP_ID} ({PROVIDER} OAuth2): is a bot: unauthorized"},
            f"Mattermost refused to store your connection (HTTP 401). Your {PROVIDER} account was not connected.",
        ),
        (
            {"exc": requests.ConnectionError},
            "Mattermost could not be reached from the app; please try again in a minute. "
            f"Your {PROVIDER} account was not connected.",
        ),
    ],
    ids=["500 size limit", "401", "401 bot", "unreachable"],
)
def test_store_failure_is_an_error_and_revokes_the_fresh_grant(configured, requests_mock, upstream, answer, expected_text):
    requests_mock.post(OAUTH2_USER_URL, **answer)
    result = complete(configured)
    assert result == {"type": "error", "text": expected_text}
    assert upstream.revoke.call_count == 1
    assert parse_qs(upstream.revoke.last_request.body) == {"token": [REFRESH_TOKEN]}
    assert sent_to(requests_mock, DM_CHANNEL_URL) == []  # no "connected" DM for a failed connect


@pytest.mark.parametrize("fault", [{"exc": requests.ReadTimeout}, {"status_code": 502}], ids=["timeout", "502"])
def test_a_store_whose_outcome_is_unknown_but_happened_is_a_success(
    configured, requests_mock, upstream, mattermost, cipher, fault
):
    # Mattermost stored the record, then the answer was lost: the app reads it back instead of revoking a live grant.
    store = requests_mock.post(OAUTH2_USER_URL, **fault)
    requests_mock.get(OAUTH2_USER_URL, text=lambda request, context: store.last_request.body.decode())
    assert complete(configured) == {"type": "ok"}
    assert upstream.revoke.call_count == 0
    assert len(sent_to(requests_mock, POSTS_URL)) == 1  # and the user is told


def test_record_over_8_kib_is_refused_before_sending_and_the_grant_revoked(configured, requests_mock, upstream):
    requests_mock.post(TOKEN_URL, json={**TOKEN_ANSWER, "access_token": "a" * 7000})
    result = complete(configured)
    assert result["type"] == "error"
    assert "too large" in result["text"] and "not connected" in result["text"]
    assert sent_to(requests_mock, OAUTH2_USER_URL) == []
    assert upstream.revoke.call_count == 1


def test_store_failure_without_refresh_token_revokes_the_access_token(configured, requests_mock, upstream):
    requests_mock.post(TOKEN_URL, json={k: v for k, v in TOKEN_ANSWER.items() if k != "refresh_token"})
    requests_mock.post(OAUTH2_USER_URL, status_code=500)
    complete(configured)
    assert parse_qs(upstream.revoke.last_request.body) == {"token": [ACCESS_TOKEN]}


def test_a_failed_revocation_keeps_the_original_error(configured, requests_mock, upstream):
    requests_mock.post(OAUTH2_USER_URL, status_code=500)
    requests_mock.post(REVOKE_URL, exc=requests.ConnectionError)
    result = complete(configured)
    assert result["type"] == "error" and result["text"].startswith("Mattermost failed to store your connection")


def test_missing_acting_user_token_stores_nothing_and_revokes(configured, requests_mock, upstream):
    # A manifest declaring its own on_oauth2_complete expand loses acting_user_access_token (`Call.WithDefault`, `apps/call.go`).
    configured.tokens[ALICE.id] = ""
    result = complete(configured)
    assert result["type"] == "error" and "acting_user_access_token" in result["text"]
    assert sent_to(requests_mock, OAUTH2_USER_URL) == []
    assert upstream.revoke.call_count == 1


# -- the identity, from the ID token when it can be trusted --------------------------------------------------

NO_SUB = object()


def id_token(**claims) -> str:
    """An ID token as the provider signs it; the signature is never checked (it came over TLS straight from the token
    endpoint), so any key does."""
    payload = {"iss": ISSUER, "aud": CLIENT_ID, "exp": int(time.time()) + 3600, **USERINFO, **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not NO_SUB}, "a-key-the-app-never-sees-0123456789abcdef")


def test_the_identity_comes_from_the_id_token_with_no_userinfo_round_trip(
    configured, requests_mock, upstream, mattermost, cipher
):
    requests_mock.post(TOKEN_URL, json={**TOKEN_ANSWER, "id_token": id_token()})
    assert complete(configured) == {"type": "ok"}
    assert upstream.userinfo.call_count == 0
    record = cipher.open(json.loads(mattermost.oauth2_user.last_request.body), user_id=ALICE.id)
    assert record.identity == Identity(sub=USERINFO["sub"], email="alice@gmail.com", name="Alice G")


@pytest.mark.parametrize(
    "claims",
    [{"iss": "https://accounts.evil.example"}, {"aud": "another-client.example.test"}, {"exp": 1}, {"sub": NO_SUB}],
    ids=["another issuer", "another audience", "expired", "no sub"],
)
def test_an_id_token_that_fails_its_checks_falls_back_to_userinfo(
    configured, requests_mock, upstream, mattermost, cipher, claims
):
    requests_mock.post(TOKEN_URL, json={**TOKEN_ANSWER, "id_token": id_token(**claims)})
    upstream.userinfo = requests_mock.get(USERINFO_URL, json={**USERINFO, "name": "From Userinfo"})
    assert complete(configured) == {"type": "ok"}
    assert upstream.userinfo.call_count == 1
    record = cipher.open(json.loads(mattermost.oauth2_user.last_request.body), user_id=ALICE.id)
    assert record.identity.name == "From Userinfo"


@pytest.mark.parametrize("settings", [make_settings(oauth2_issuer=AppProvider.issuer)], ids=["the provider's own issuer"])
def test_the_id_token_issuer_without_a_scheme_is_accepted(configured, requests_mock, upstream, mattermost, cipher):
    # The provider writes either spelling in its ID tokens (OpenID Connect Core 3.1.3.7); the other spelling is
    # accepted when the issuer is the provider's own, not one an admin configured.
    (alias,) = AppProvider.issuer_aliases
    requests_mock.post(TOKEN_URL, json={**TOKEN_ANSWER, "id_token": id_token(iss=alias)})
    assert complete(configured) == {"type": "ok"}
    assert upstream.userinfo.call_count == 0


# -- granular consent: what the user allowed -------------------------------------------------------------------


def dm_text(mattermost) -> str:
    return json.loads(mattermost.posts.last_request.body)["message"]


def test_a_grant_without_a_commands_scope_connects_and_the_dm_says_what_is_missing(
    configured, requests_mock, upstream, mattermost, cipher
):
    # The user unticked calendar access: identity works, so the connection is made, and the DM names the permission
    # not allowed, the command it stops, and how to allow it.
    unticked = " ".join(["openid", *AppProvider.scope_aliases])  # the sign-in scopes, as the token answer spells them
    requests_mock.post(TOKEN_URL, json={**TOKEN_ANSWER, "scope": unticked})
    assert complete(configured) == {"type": "ok"}
    assert cipher.open(json.loads(mattermost.oauth2_user.last_request.body), user_id=ALICE.id).scope == unticked
    events = f"`/{paths.COMMAND} events`"
    assert f"You did not allow the app to {messages.text('permission.events')}, so {events} cannot work yet" in dm_text(
        mattermost
    )
    assert f"run `/{paths.COMMAND} connect` again and tick that box" in dm_text(mattermost)
    assert f"Try {events}" not in dm_text(mattermost)  # not offered while it cannot work


def test_a_full_grant_says_nothing_is_missing(configured, upstream, mattermost):
    complete(configured)
    assert "did not allow" not in dm_text(mattermost) and f"Try `/{paths.COMMAND} events`" in dm_text(mattermost)


# -- switching accounts: the previous grant is revoked once the new record is safe, and only for another account ------------


def test_reconnecting_as_another_account_revokes_the_previous_grant_after_storing(
    configured, requests_mock, upstream, mattermost, connect_user
):
    connect_user(ALICE, refresh_token="1//previous-account", identity=Identity(sub="1999", email="other@gmail.com", name="O"))
    assert complete(configured) == {"type": "ok"}
    assert [parse_qs(r.body) for r in upstream.revoke.request_history] == [{"token": ["1//previous-account"]}]
    urls = [r.url for r in requests_mock.request_history if r.method == "POST"]
    assert urls.index(OAUTH2_USER_URL) < urls.index(REVOKE_URL)
    assert "other@gmail.com" in dm_text(mattermost) and "**alice@gmail.com**" in dm_text(mattermost)


def test_reconnecting_as_the_same_account_revokes_nothing(configured, upstream, mattermost, connect_user):
    # A provider may revoke per user and client (the shipped one does): revoking the old token would end the new
    # grant too.
    connect_user(
        ALICE, refresh_token="1//same-account", identity=Identity(sub=USERINFO["sub"], email="alice@gmail.com", name="A")
    )
    assert complete(configured) == {"type": "ok"}
    assert upstream.revoke.call_count == 0


def test_a_failed_store_of_the_same_account_revokes_nothing(configured, requests_mock, upstream, connect_user):
    # The stored record is of the same account: revoking the new grant would end the stored one too.
    connect_user(ALICE, identity=Identity(sub=USERINFO["sub"], email="alice@gmail.com", name="A"))
    requests_mock.post(OAUTH2_USER_URL, status_code=401, json={"message": "no"})
    assert complete(configured)["type"] == "error"
    assert upstream.revoke.call_count == 0


def test_a_failed_store_of_another_account_revokes_the_new_grant_only(configured, requests_mock, upstream, connect_user):
    connect_user(ALICE, refresh_token="1//kept", identity=Identity(sub="1999", email="other@gmail.com", name="O"))
    requests_mock.post(OAUTH2_USER_URL, status_code=401, json={"message": "no"})
    assert complete(configured)["type"] == "error"
    assert [parse_qs(r.body) for r in upstream.revoke.request_history] == [{"token": [REFRESH_TOKEN]}]
