"""Item 1: the record stored through /oauth2/user is ciphertext; its key, rotation, unreadable records, size."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import requests_mock as requests_mock_module
from cryptography.fernet import Fernet, InvalidToken

from app import create_app
from mattermost_apps.testing import DEFAULT_COMPLETE_EXPAND, FakePlugin, build_call_request
from provider import Identity
from settings import KEY_DERIVATION_SALT
from tests.conftest import (
    ALICE,
    ALICE_TOKEN,
    APP_SECRET,
    APPS_API,
    CLIENT_ID,
    CLIENT_SECRET,
    SITE_URL,
    TOKEN_URL,
    TOKEN_USE_EXPAND,
    USERINFO_URL,
    derived_keys,
    fake_plugin,
    make_settings,
)
from tests.names import CMD, PROVIDER
from user_tokens import TokenRecord, UnreadableRecord

from .support import a_record, post_call, seal, unseal

STATE = "q1w2e3r4t5y6u7i8o9p0." + ALICE.id
ACCESS = "ya29.a0AfH6SMBx-secret-access-token-7Qm2"
REFRESH = "1//0gLq-secret-refresh-token-9Zk4"
OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def plugin_for(installed, **settings) -> FakePlugin:
    plugin = fake_plugin(create_app(make_settings(**settings)).test_client(), installed)
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    return plugin


def complete(plugin: FakePlugin, requests_mock, *, access: str = ACCESS, refresh: str = REFRESH, userinfo: dict | None = None):
    """Run /oauth2/complete with the provider and Mattermost mocked; return (answer, the /oauth2/user mock)."""
    requests_mock.post(
        TOKEN_URL,
        json={
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": 3599,
            "scope": "openid email",
            "token_type": "Bearer",
        },
    )
    requests_mock.get(USERINFO_URL, json=userinfo or {"sub": "248289761001", "email": "alice@gmail.com", "name": "Alice G"})
    stored = requests_mock.post(APPS_API + "/oauth2/user", text="")
    requests_mock.post(SITE_URL + "/api/v4/channels/direct", json={"id": "dm"})
    requests_mock.post(SITE_URL + "/api/v4/posts", json={"id": "p"})
    answer = plugin.call("/oauth2/complete", DEFAULT_COMPLETE_EXPAND, values={"state": STATE, "code": "4/0Acode"})
    return answer, stored


def windows(secret: str, size: int = 8) -> list[str]:
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def test_the_stored_record_is_ciphertext_with_no_piece_of_a_token_or_the_identity(plugin, requests_mock):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    answer, stored = complete(plugin, requests_mock)
    assert answer == {"type": "ok"}
    body = stored.last_request.body.decode()
    assert set(json.loads(body)) == {"v", "fernet"}
    for secret in (ACCESS, REFRESH, "alice@gmail.com", "248289761001", "Alice G"):
        assert not [w for w in windows(secret) if w in body], secret
    assert ALICE_TOKEN not in body


def test_without_token_encryption_key_the_key_is_derived_from_app_secret(plugin, requests_mock):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    _, stored = complete(plugin, requests_mock)
    record = unseal(stored.last_request.body, derived_keys(APP_SECRET).token_keys[0])
    assert record.access_token == ACCESS and record.refresh_token == REFRESH
    # Not the secret itself, and a different key for every purpose and every APP_SECRET.
    keys = {
        derived_keys(APP_SECRET).token_keys[0],
        derived_keys(APP_SECRET + "x").token_keys[0],
        Fernet(derived_keys(APP_SECRET).token_keys[0])._signing_key.hex(),
    }
    assert len(keys) == 3
    assert derived_keys(APP_SECRET).pkce_key != base64.urlsafe_b64decode(derived_keys(APP_SECRET).token_keys[0])
    assert APP_SECRET.encode() not in (
        derived_keys(APP_SECRET).pkce_key,
        base64.urlsafe_b64decode(derived_keys(APP_SECRET).token_keys[0]),
    )


def test_the_derived_keys_never_change():
    # Known answers from the key-derivation salt's bytes: a renamed app or another provider keeps them, or every
    # connection stored under a derived key becomes unreadable. Never update these figures to make a change pass.
    assert hashlib.sha256(KEY_DERIVATION_SALT).hexdigest() == "eeedda54ed7600f6fdc2a015432921eba3bc6a75f55aa923da1ddde7a65a392d"
    keys = derived_keys("known-answer-app-secret")
    assert keys.token_keys == ("9IDyECowb4sYabg1aHR33EDPoP2Wx5ZGLTGnX4REI94=",)
    assert keys.pkce_key.hex() == "00e8d1b8c8b3f290842241eb8830d813d2db8bd874e2d6044ed00b3c2e59c2c3"


def test_a_different_app_secret_cannot_read_the_record(installed, requests_mock):
    writer = plugin_for(installed)
    _, stored = complete(writer, requests_mock)
    with pytest.raises(UnreadableRecord):
        unseal(stored.last_request.body, derived_keys("another-app-secret-0123456789abcdef").token_keys[0])


def test_token_encryption_key_when_set_is_the_key_not_app_secret(installed, requests_mock):
    plugin = plugin_for(installed, token_encryption_keys=(NEW_KEY,))
    _, stored = complete(plugin, requests_mock)
    assert unseal(stored.last_request.body, NEW_KEY).access_token == ACCESS
    with pytest.raises(UnreadableRecord):
        unseal(stored.last_request.body, derived_keys(APP_SECRET).token_keys[0])
    # A replica with the same TOKEN_ENCRYPTION_KEY and another APP_SECRET reads it (the key is the only thing needed).
    other = create_app(make_settings(app_secret="another-app-secret-0123456789abcdef", token_encryption_keys=(NEW_KEY,)))
    record = other.extensions["services"].tokens._cipher.open(json.loads(stored.last_request.body), user_id=ALICE.id)
    assert record.refresh_token == REFRESH


def test_a_record_under_the_old_key_is_read_and_rewritten_under_the_new_key(installed, requests_mock):
    plugin = plugin_for(installed, token_encryption_keys=(NEW_KEY, OLD_KEY))
    plugin.store_user_record(ALICE, seal(a_record(access_token="ya29.fresh-under-old"), OLD_KEY))
    requests_mock.get(USERINFO_URL, json={"sub": "1", "email": "alice@gmail.com"})
    assert "alice@gmail.com" in plugin.call("/commands/info", TOKEN_USE_EXPAND)["text"]
    assert requests_mock.last_request.headers["Authorization"] == "Bearer ya29.fresh-under-old"

    # Its next write (here after a refresh) is under the new key only.
    plugin.store_user_record(ALICE, seal(a_record(access_token="ya29.stale", expires_in=-10), OLD_KEY))
    requests_mock.post(TOKEN_URL, json={"access_token": "ya29.renewed", "expires_in": 3599, "token_type": "Bearer"})
    stored = requests_mock.post(APPS_API + "/oauth2/user", text="")
    assert plugin.call("/commands/info", TOKEN_USE_EXPAND)["type"] == "ok"
    body = json.loads(stored.last_request.body)
    assert unseal(body, NEW_KEY).access_token == "ya29.renewed"
    with pytest.raises(InvalidToken):
        Fernet(OLD_KEY).decrypt(body["fernet"].encode())


@pytest.mark.parametrize(
    "stored",
    [
        seal(a_record(), Fernet.generate_key().decode()),  # another key
        {"v": 1, "fernet": "not-a-fernet-token"},
        {"v": 2, "fernet": "x"},
        {"access_token": "ya29.plaintext-record", "refresh_token": "1//plain"},  # a plaintext record is not trusted
        "a string",
        [1, 2, 3],
    ],
    ids=["other-key", "garbage", "unknown-version", "plaintext", "string", "array"],
)
def test_an_unreadable_record_counts_as_not_connected(plugin, requests_mock, stored):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    plugin.store_user_record(ALICE, stored)
    bindings = plugin.call("/bindings", {"acting_user": "summary", "oauth2_app": "all", "oauth2_user": "all"})
    labels = bindings["data"][0]["bindings"][0]["hint"].strip("[]").split(" | ")  # usable now (all are bound)
    # The bindings look only at the record's shape (no decryption on every refresh of the commands): a record of
    # this app's shape shows the connected commands, which then say to reconnect; connect is always there.
    sealed_shape = isinstance(stored, dict) and stored.get("v") == 1
    assert "connect" in labels and ("info" in labels) is sealed_shape and ("events" in labels) is sealed_shape

    for path in ("/commands/info", "/commands/events"):
        answer = plugin.call(path, TOKEN_USE_EXPAND)
        assert answer["type"] == "error" and f"{CMD} connect" in answer["text"], answer
    assert f"[Connect your {PROVIDER} account]" in plugin.call("/commands/connect", TOKEN_USE_EXPAND)["text"]
    assert requests_mock.call_count == 0  # no token was sent anywhere


def test_info_on_a_record_under_a_lost_key_says_to_reconnect(installed, requests_mock):
    writer = plugin_for(installed, token_encryption_keys=(OLD_KEY,))
    writer.store_user_record(ALICE, seal(a_record(), OLD_KEY))
    reader = plugin_for(installed, token_encryption_keys=(NEW_KEY,))
    reader.stored = writer.stored
    answer = reader.call("/commands/info", TOKEN_USE_EXPAND)
    assert answer["type"] == "error"
    assert "can no longer be read" in answer["text"] and f"{CMD} connect" in answer["text"]


def test_the_worst_case_record_fits_in_8_KiB():
    """The largest tokens big providers document (access token 2048 bytes, refresh token 512), OIDC's `sub` (255), a long scope,
    and the longest name and email the app keeps, all in 4-byte characters."""
    record = TokenRecord(
        access_token="a" * 2048,
        refresh_token="r" * 512,
        expires_at=1.7e9 + 0.123456789,
        scope="s" * 1024,
        token_type="Bearer",
        identity=Identity(sub="1" * 255, email="😀" * 254, name="😀" * 128),
    )
    size = len(json.dumps(seal(record, NEW_KEY), separators=(",", ":")).encode())
    assert size <= 8192, size


def test_userinfo_names_and_emails_are_bounded_so_the_record_fits(plugin, requests_mock):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    answer, stored = complete(
        plugin,
        requests_mock,
        access="a" * 2048,
        refresh="r" * 512,
        userinfo={"sub": "1" * 255, "email": "😀" * 5000, "name": "名" * 5000},
    )
    assert answer == {"type": "ok"}, answer
    assert len(stored.last_request.body) <= 8192
    record = unseal(stored.last_request.body, derived_keys(APP_SECRET).token_keys[0])
    assert record.identity.name == "名" * 128 and len(record.identity.email) == 254


def test_the_record_never_holds_the_client_secret_or_id_token(plugin, requests_mock):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    requests_mock.post(
        TOKEN_URL,
        json={
            "access_token": ACCESS,
            "refresh_token": REFRESH,
            "expires_in": 3599,
            "id_token": "eyJhbGciOiJSUzI1NiJ9.id-token-payload.sig",
            "token_type": "Bearer",
        },
    )
    requests_mock.get(USERINFO_URL, json={"sub": "1", "email": "alice@gmail.com"})
    stored = requests_mock.post(APPS_API + "/oauth2/user", text="")
    requests_mock.post(SITE_URL + "/api/v4/channels/direct", json={"id": "dm"})
    requests_mock.post(SITE_URL + "/api/v4/posts", json={"id": "p"})
    body = build_call_request(
        plugin.installed,
        {"path": "/oauth2/complete", "expand": DEFAULT_COMPLETE_EXPAND},
        acting_user=ALICE,
        acting_user_access_token=ALICE_TOKEN,
        values={"state": STATE, "code": "4/0Acode"},
    )
    assert post_call(plugin.client, plugin.installed, body) == {"type": "ok"}
    plaintext = Fernet(derived_keys(APP_SECRET).token_keys[0]).decrypt(json.loads(stored.last_request.body)["fernet"].encode())
    assert b"GOCSPX" not in plaintext and b"id-token-payload" not in plaintext


def test_a_lone_surrogate_in_the_userinfo_name_still_seals_and_opens():
    record = a_record()
    odd = TokenRecord(
        record.access_token,
        record.refresh_token,
        record.expires_at,
        record.scope,
        record.token_type,
        Identity("1", "a@b.c", "Al\ud800ice"),
    )
    assert unseal(seal(odd, NEW_KEY), NEW_KEY).identity.name == "Al\ud800ice"


def test_a_forged_site_url_never_receives_a_provider_token_or_the_client_secret(plugin, requests_mock):
    """A call (validly signed) whose context points mattermost_site_url elsewhere: the app sends that host only what
    the context itself carried (its session token) and ciphertext; the provider's tokens go only to the configured URLs."""
    import re as re_module

    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    plugin.installed.site_url = "https://evil.test"
    services = plugin.client.application.extensions["services"]
    plugin.store_user_record(
        ALICE, services.tokens._cipher.seal(a_record(access_token=ACCESS, refresh_token=REFRESH, expires_in=-5), user_id=ALICE.id)
    )
    evil = requests_mock.register_uri(requests_mock_module.ANY, re_module.compile(r"https://evil\.test/.*"), text="")
    requests_mock.post(
        TOKEN_URL,
        json={
            "access_token": "ya29.renewed-token-XYZW",
            "refresh_token": "1//rotated-token-QRST",
            "expires_in": 3599,
            "token_type": "Bearer",
        },
    )
    requests_mock.get(USERINFO_URL, json={"sub": "1", "email": "alice@gmail.com"})
    assert plugin.call("/commands/info", TOKEN_USE_EXPAND)["type"] == "ok"
    assert evil.called
    sent = " ".join(f"{r.url} {r.headers} {r.body!r}" for r in requests_mock.request_history if "evil.test" in r.url)
    for secret in (ACCESS, REFRESH, "ya29.renewed-token-XYZW", "1//rotated-token-QRST", "GOCSPX-test-client-secret"):
        assert secret not in sent
