"""Refresh only when stale (with a margin), and never replay a refresh token that was traded in, also when
two calls for the same user race, in one process or in two: the stub provider rotates refresh tokens and revokes the
whole grant on a replay (oidc-provider's behaviour with rotation on). The refresh lock and the re-read of the stored
record inside it are what prevent it; the controls below take each away. The same races with real gunicorn workers,
replicas and oidc-provider are in tests/e2e/test_refresh_race.py.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from types import SimpleNamespace

import pytest

from app import create_app
from mattermost_apps.testing import FakePlugin, InstalledApp
from tests.conftest import ALICE, CLIENT_ID, CLIENT_SECRET, TOKEN_URL, TOKEN_USE_EXPAND, USERINFO_URL, fake_plugin, make_settings
from user_tokens import HostLock, TokenRecord
from user_tokens.service import REFRESH_MARGIN_SECONDS, UserTokens

from .support import FakeMattermost, RotatingProvider, a_record, post_call, provider_settings_overrides

# -- when to refresh -----------------------------------------------------------------------------------------


def test_the_margin_boundary():
    record = a_record()
    now = 1_000_000.0
    at = TokenRecord(
        record.access_token, record.refresh_token, now + REFRESH_MARGIN_SECONDS, record.scope, record.token_type, record.identity
    )
    assert REFRESH_MARGIN_SECONDS == 60
    assert at.is_stale(margin=60, now=now)  # expires exactly at the margin: refresh
    assert not at.is_stale(margin=60, now=now - 0.001)  # a millisecond more: keep
    unknown = TokenRecord("a", "r", None, "", "Bearer", record.identity)
    assert not unknown.is_stale(margin=60, now=now)  # no expiry given: used until the API refuses it


@pytest.mark.parametrize(
    ("expires_in", "refreshes"),
    [(3600, 0), (65, 0), (55, 1), (-3600, 1)],
    ids=["an-hour", "just-outside-the-margin", "inside-the-margin", "expired"],
)
def test_refresh_only_when_stale(plugin, requests_mock, expires_in, refreshes):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    services = plugin.client.application.extensions["services"]
    plugin.store_user_record(ALICE, services.tokens._cipher.seal(a_record(expires_in=expires_in), user_id=ALICE.id))
    token = requests_mock.post(TOKEN_URL, json={"access_token": "ya29.new", "expires_in": 3599, "token_type": "Bearer"})
    requests_mock.post("http://mattermost.test/plugins/com.mattermost.apps/api/v1/oauth2/user", text="")
    requests_mock.get(USERINFO_URL, json={"sub": "1", "email": "alice@gmail.com"})
    for _ in range(3):  # never on every call: the same context three times
        assert plugin.call("/commands/info", TOKEN_USE_EXPAND)["type"] == "ok"
        if refreshes:
            break
    assert token.call_count == refreshes


# -- rotation and races, over real sockets -------------------------------------------------------------------


class Rig:
    """The app (one or more instances) between a rotating provider and a Mattermost that stores the record."""

    def __init__(self, installed: InstalledApp, provider: RotatingProvider, mattermost: FakeMattermost) -> None:
        self.installed = installed
        self.provider = provider
        self.mattermost = mattermost
        installed.site_url = mattermost.url
        installed.oauth2_app = {"client_id": provider.client_id, "client_secret": provider.client_secret}
        self.settings = make_settings(**provider_settings_overrides(provider.url), oauth2_rotates_refresh_tokens=True)

    def instance(self) -> FakePlugin:
        return fake_plugin(create_app(self.settings).test_client(), self.installed)

    def connect(self, plugin: FakePlugin, *, expires_in: float) -> TokenRecord:
        access, refresh = self.provider.new_grant()
        record = a_record(access_token=access, refresh_token=refresh, expires_in=expires_in)
        self.mattermost.stored[ALICE.id] = json.dumps(
            plugin.client.application.extensions["services"].tokens._cipher.seal(record, user_id=ALICE.id)
        ).encode()
        return record

    def info_request(self, plugin: FakePlugin) -> dict:
        """The CallRequest as the plugin would build it now, from what Mattermost stores now."""
        plugin.stored = dict(self.mattermost.stored)
        return plugin.request("/commands/info", TOKEN_USE_EXPAND)

    def stored_record(self, plugin: FakePlugin) -> TokenRecord:
        return plugin.client.application.extensions["services"].tokens._cipher.open(
            json.loads(self.mattermost.stored[ALICE.id]), user_id=ALICE.id
        )


@pytest.fixture
def rig(installed, insecure_transport, mattermost):
    with RotatingProvider(client_id="rot-client", client_secret="rot-secret", refresh_delay=0.3) as provider:
        yield Rig(installed, provider, mattermost)


def race(*jobs) -> list:
    results: list = [None] * len(jobs)
    start = threading.Barrier(len(jobs))

    def run(i: int) -> None:
        start.wait()
        results[i] = jobs[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_a_stale_token_is_refreshed_rotated_and_stored(rig):
    plugin = rig.instance()
    before = rig.connect(plugin, expires_in=-5)
    assert "alice@gmail.com" in post_call(plugin.client, rig.installed, rig.info_request(plugin))["text"]
    after = rig.stored_record(plugin)
    assert after.refresh_token != before.refresh_token and after.access_token != before.access_token
    assert not after.is_stale(margin=60)
    assert len(rig.provider.hits_for("POST", "/token")) == 1 and rig.provider.replays == 0


def test_two_concurrent_calls_for_one_user_both_succeed_without_a_replay(rig):
    plugin = rig.instance()
    rig.connect(plugin, expires_in=-5)
    first, second = rig.info_request(plugin), rig.info_request(plugin)  # both carry the same stale record
    client_a, client_b = plugin.client.application.test_client(), plugin.client.application.test_client()
    answers = race(lambda: post_call(client_a, rig.installed, first), lambda: post_call(client_b, rig.installed, second))
    assert all(a is not None and a["type"] == "ok" and "alice@gmail.com" in a["text"] for a in answers), answers
    assert rig.provider.replays == 0 and rig.provider.live_grants == 1
    assert len(rig.provider.hits_for("POST", "/token")) == 1  # the second call waited and took the stored result
    # And the grant still works afterwards.
    assert post_call(plugin.client, rig.installed, rig.info_request(plugin))["type"] == "ok"


def test_a_later_call_carrying_the_traded_in_token_does_not_replay_it(rig):
    """The plugin built the second call's context before the first call stored the rotated token."""
    plugin = rig.instance()
    rig.connect(plugin, expires_in=-5)
    first, late = rig.info_request(plugin), rig.info_request(plugin)
    assert post_call(plugin.client, rig.installed, first)["type"] == "ok"
    assert post_call(plugin.client, rig.installed, late)["type"] == "ok"
    assert rig.provider.replays == 0 and rig.provider.live_grants == 1
    assert len(rig.provider.hits_for("POST", "/token")) == 1


def test_two_replicas_racing_for_one_user_both_succeed_without_a_replay(rig):
    """Two instances of the app, as two replicas on one host: the refresh lock is the host's, not the process's."""
    one, two = rig.instance(), rig.instance()
    rig.connect(one, expires_in=-5)
    first, second = rig.info_request(one), rig.info_request(two)
    answers = race(lambda: post_call(one.client, rig.installed, first), lambda: post_call(two.client, rig.installed, second))
    assert all(a is not None and a["type"] == "ok" for a in answers), answers
    assert rig.provider.replays == 0 and rig.provider.live_grants == 1
    assert len(rig.provider.hits_for("POST", "/token")) == 1


def test_without_the_lock_the_race_revokes_the_grant(rig, monkeypatch):
    """The control: the same race with the refresh lock taken away loses the grant, so the tests above fail without it."""
    no_lease = SimpleNamespace(check=lambda: None)
    monkeypatch.setattr(HostLock, "hold", lambda self, key, *, timeout: contextlib.nullcontext(no_lease))
    one, two = rig.instance(), rig.instance()
    rig.connect(one, expires_in=-5)
    first, second = rig.info_request(one), rig.info_request(two)
    answers = race(lambda: post_call(one.client, rig.installed, first), lambda: post_call(two.client, rig.installed, second))
    assert rig.provider.replays == 1 and rig.provider.live_grants == 0
    assert any(a["type"] == "error" and "/google connect" in a["text"] for a in answers), answers


def test_without_the_re_read_a_late_call_replays_the_traded_in_token(rig, monkeypatch):
    """The control of the late call: the lock alone does not help a call whose context is older than the store."""
    plugin = rig.instance()
    monkeypatch.setattr(UserTokens, "_latest", lambda self, call, record, lease: record)
    rig.connect(plugin, expires_in=-5)
    first, late = rig.info_request(plugin), rig.info_request(plugin)
    assert post_call(plugin.client, rig.installed, first)["type"] == "ok"
    answer = post_call(plugin.client, rig.installed, late)
    assert rig.provider.replays == 1 and answer["type"] == "error"


def test_a_provider_that_does_not_rotate_costs_no_re_read(rig, monkeypatch):
    """Google: no new refresh token on refresh, so nothing to re-read; a refresh is one round trip, then the store."""
    plugin = rig.instance()
    monkeypatch.setattr(plugin.client.application.extensions["services"].provider, "rotates_refresh_tokens", False)
    rig.connect(plugin, expires_in=-5)
    assert post_call(plugin.client, rig.installed, rig.info_request(plugin))["type"] == "ok"
    assert rig.mattermost.hits_for("GET", "/plugins/com.mattermost.apps/api/v1/oauth2/user") == []
    assert len(rig.mattermost.hits_for("POST", "/plugins/com.mattermost.apps/api/v1/oauth2/user")) == 1


def test_a_revoked_grant_clears_the_record_and_says_reconnect(rig):
    plugin = rig.instance()
    rig.connect(plugin, expires_in=-5)
    for grant in rig.provider.grants:
        grant.revoked = True
    answer = post_call(plugin.client, rig.installed, rig.info_request(plugin))
    assert answer["type"] == "error" and "/google connect" in answer["text"]
    assert rig.mattermost.stored[ALICE.id] == b"null"


def test_the_refreshed_token_is_used_right_away(rig):
    plugin = rig.instance()
    before = rig.connect(plugin, expires_in=-5)
    started = time.monotonic()
    post_call(plugin.client, rig.installed, rig.info_request(plugin))
    userinfo = rig.provider.hits_for("GET", "/userinfo")
    assert len(userinfo) == 1 and userinfo[0].bearer == rig.stored_record(plugin).access_token != before.access_token
    assert time.monotonic() - started < 2


def test_a_provider_said_not_to_rotate_that_does_is_reported(rig, monkeypatch, caplog):
    """A provider class that wrongly says it does not rotate: the first rotation is said in the log, with the fix."""
    plugin = rig.instance()
    provider = plugin.client.application.extensions["services"].provider
    monkeypatch.setattr(provider, "rotates_refresh_tokens", False)
    rig.connect(plugin, expires_in=-5)
    assert post_call(plugin.client, rig.installed, rig.info_request(plugin))["type"] == "ok"
    assert "OAUTH2_ROTATES_REFRESH_TOKENS=true" in caplog.text
    assert provider.rotates_refresh_tokens is False  # nothing a process learns changes what it does


@pytest.fixture
def slow_rig(installed, insecure_transport, mattermost):
    """A rotating provider that answers a refresh later than HTTP_TIMEOUT, though well within the call's deadline."""
    with RotatingProvider(client_id="rot-client", client_secret="rot-secret", refresh_delay=1.5) as provider:
        rig = Rig(installed, provider, mattermost)
        rig.settings = make_settings(
            **provider_settings_overrides(provider.url), oauth2_rotates_refresh_tokens=True, http_timeout=0.5, call_deadline=5.0
        )
        yield rig


def test_a_late_refresh_answer_is_waited_for_and_nothing_is_lost(slow_rig):
    # Giving up on it would lose the only copy of the new refresh token while the provider has spent the old one.
    plugin = slow_rig.instance()
    before = slow_rig.connect(plugin, expires_in=-5)
    assert post_call(plugin.client, slow_rig.installed, slow_rig.info_request(plugin))["type"] == "ok"
    assert slow_rig.stored_record(plugin).refresh_token != before.refresh_token
    assert post_call(plugin.client, slow_rig.installed, slow_rig.info_request(plugin))["type"] == "ok"
    assert slow_rig.provider.replays == 0 and slow_rig.provider.live_grants == 1


def test_one_failed_store_of_the_refreshed_record_is_retried(rig):
    # A whole overwrite, safe to send again: one lost store must not leave the spent refresh token stored.
    plugin = rig.instance()
    rig.connect(plugin, expires_in=-5)
    post_user = rig.mattermost.routes[("POST", "/plugins/com.mattermost.apps/api/v1/oauth2/user")]
    answers = iter([(503, "unavailable")])
    rig.mattermost.route(
        "POST", "/plugins/com.mattermost.apps/api/v1/oauth2/user", lambda request: next(answers, None) or post_user(request)
    )
    assert post_call(plugin.client, rig.installed, rig.info_request(plugin))["type"] == "ok"
    assert len(rig.mattermost.hits_for("POST", "/plugins/com.mattermost.apps/api/v1/oauth2/user")) == 2
    assert post_call(plugin.client, rig.installed, rig.info_request(plugin))["type"] == "ok"
    assert rig.provider.replays == 0 and rig.provider.live_grants == 1
