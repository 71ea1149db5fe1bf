"""Item 7: with LOG_LEVEL=DEBUG, the whole flow and its failure paths leave no secret in the logs or on stdout/stderr.

Over real sockets (loopback stubs), so urllib3, requests-oauthlib and oauthlib run as in production. Every secret
is random, and the check is that no 8-character piece of any of them appears: a log line may identify a secret by
at most its last 4 characters.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets

import pytest
from cryptography.fernet import Fernet

from app import create_app
from mattermost_apps.testing import DEFAULT_COMPLETE_EXPAND, DEFAULT_CONNECT_EXPAND, InstalledApp, call_headers, sign_jwt
from provider import pkce
from tests.conftest import (
    ADMIN,
    ALICE,
    BOT,
    CONFIGURE_SUBMIT_EXPAND,
    CONNECT_EXPAND,
    TOKEN_USE_EXPAND,
    derived_keys,
    make_settings,
)
from tests.names import APP_ID

from .support import APPS_API_PATH, FakeMattermost, RotatingProvider, a_record, provider_settings_overrides

APP_SECRET = "app-secret-" + secrets.token_urlsafe(32)
CLIENT_ID = "1234-" + secrets.token_hex(8) + ".client.example.test"
CLIENT_SECRET = "GOCSPX-" + secrets.token_urlsafe(20)
TOKEN_KEY = Fernet.generate_key().decode()
OLD_TOKEN_KEY = Fernet.generate_key().decode()
SESSION_TOKENS = {ALICE.id: secrets.token_hex(13), ADMIN.id: secrets.token_hex(13)}
BOT_SESSION = secrets.token_hex(13)
NOISY_LOGGERS = ("urllib3", "requests_oauthlib", "oauthlib")


class Flow:
    def __init__(self, provider: RotatingProvider, mattermost: FakeMattermost, **settings) -> None:
        self.provider = provider
        self.mattermost = mattermost
        self.installed = InstalledApp(
            app_id=APP_ID,
            root_url="http://app.test",
            secret=APP_SECRET,
            bot=BOT,
            bot_access_token=BOT_SESSION,
            site_url=mattermost.url,
        )
        self.app = create_app(
            make_settings(
                app_secret=APP_SECRET,
                token_encryption_keys=(TOKEN_KEY, OLD_TOKEN_KEY),
                log_level="DEBUG",
                **provider_settings_overrides(provider.url),
                **settings,
            )
        )
        self.client = self.app.test_client()
        self.jwts: list[str] = []
        self.states: list[str] = []

    def call(self, path: str, expand: dict, *, user=ALICE, values=None, headers=None) -> dict:
        from mattermost_apps.testing import build_call_request

        stored = self.mattermost.stored.get(user.id)
        body = build_call_request(
            self.installed,
            {"path": path, "expand": expand},
            acting_user=user,
            acting_user_access_token=SESSION_TOKENS[user.id],
            stored_oauth2_user=stored if stored else None,
            values=values,
        )
        headers = headers or call_headers(self.installed, body)
        self.jwts.append(headers.get("Mattermost-App-Authorization", "").removeprefix("Bearer "))
        response = self.client.post(path, data=json.dumps(body), headers=headers)
        assert response.status_code == 200
        return response.get_json()

    def connect(self) -> dict:
        state = secrets.token_urlsafe(15) + "." + ALICE.id
        self.states.append(state)
        assert self.call("/oauth2/connect", DEFAULT_CONNECT_EXPAND, values={"state": state})["type"] == "ok"
        code = self.provider.issue_code()
        return self.call("/oauth2/complete", DEFAULT_COMPLETE_EXPAND, values={"state": state, "code": code, "iss": "x"})

    def expire_token(self) -> None:
        cipher = self.app.extensions["services"].tokens._cipher
        record = cipher.open(json.loads(self.mattermost.stored[ALICE.id]), user_id=ALICE.id)
        stale = a_record(access_token=record.access_token, refresh_token=record.refresh_token, expires_in=-10)
        self.mattermost.stored[ALICE.id] = json.dumps(cipher.seal(stale, user_id=ALICE.id)).encode()

    def secrets(self) -> list[str]:
        pkce_key = derived_keys(APP_SECRET).pkce_key
        token_key = base64.urlsafe_b64decode(derived_keys(APP_SECRET).token_keys[0])
        found = [
            APP_SECRET,
            CLIENT_SECRET,
            TOKEN_KEY,
            OLD_TOKEN_KEY,
            BOT_SESSION,
            *SESSION_TOKENS.values(),
            derived_keys(APP_SECRET).token_keys[0],
            pkce_key.hex(),
            token_key.hex(),
            base64.urlsafe_b64encode(pkce_key).decode(),
            base64.b64encode(pkce_key).decode(),
            *(Fernet(k)._signing_key.hex() for k in (TOKEN_KEY, OLD_TOKEN_KEY)),
            *(Fernet(k)._encryption_key.hex() for k in (TOKEN_KEY, OLD_TOKEN_KEY)),
            *self.provider.issued,
            *(j for j in self.jwts if j),
            *(pkce.code_verifier(pkce_key, s) for s in self.states),
        ]
        return [s for s in found if s]


def leaked(text: str, secret: str, window: int = 8) -> list[str]:
    return sorted({secret[i : i + window] for i in range(len(secret) - window + 1) if secret[i : i + window] in text})


@pytest.fixture
def flow(insecure_transport):
    tokens = {SESSION_TOKENS[ALICE.id]: ALICE.id, SESSION_TOKENS[ADMIN.id]: ADMIN.id, BOT_SESSION: BOT.id}
    with RotatingProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as provider, FakeMattermost(tokens) as mm:
        yield Flow(provider, mm)


def run_everything(flow: Flow) -> None:
    """The whole flow with LOG_LEVEL=DEBUG, then every failure path that logs."""
    assert (
        flow.call(
            "/configure/submit",
            CONFIGURE_SUBMIT_EXPAND,
            user=ADMIN,
            values={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        )["type"]
        == "ok"
    )
    flow.installed.oauth2_app = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    assert flow.call("/configure/form", CONFIGURE_SUBMIT_EXPAND, user=ADMIN)["type"] == "form"
    assert flow.call("/commands/connect", CONNECT_EXPAND)["type"] == "ok"
    assert flow.connect() == {"type": "ok"}
    assert flow.call("/commands/info", TOKEN_USE_EXPAND)["type"] == "ok"
    flow.expire_token()
    assert flow.call("/commands/info", TOKEN_USE_EXPAND)["type"] == "ok"  # refresh, rotation, store
    assert flow.call("/commands/events", TOKEN_USE_EXPAND)["type"] == "ok"

    # Failure paths.
    bad_jwt = {
        "Content-Type": "application/json",
        "Mattermost-App-Authorization": "Bearer " + sign_jwt("wrong-" + APP_SECRET, ALICE.id),
    }
    assert flow.call("/commands/info", TOKEN_USE_EXPAND, headers=bad_jwt)["type"] == "error"
    unknown_code = "4/0A-" + secrets.token_urlsafe(20)
    flow.provider.issued.append(unknown_code)
    assert (
        flow.call("/oauth2/complete", DEFAULT_COMPLETE_EXPAND, values={"state": "s." + ALICE.id, "code": unknown_code})["type"]
        == "error"
    )
    assert (
        flow.call("/oauth2/complete", DEFAULT_COMPLETE_EXPAND, values={"state": "s." + ALICE.id, "error": "access_denied"})[
            "type"
        ]
        == "error"
    )
    flow.provider.route("GET", flow.provider.CALENDAR_EVENTS, lambda r: (503, "busy"))
    assert flow.call("/commands/events", TOKEN_USE_EXPAND)["type"] == "error"  # retried twice, then given up
    flow.expire_token()
    token_route = flow.provider.routes[("POST", "/token")]
    flow.provider.route("POST", "/token", lambda r: (500, "<html>boom</html>"))
    assert flow.call("/commands/info", TOKEN_USE_EXPAND)["type"] == "error"
    flow.provider.route("POST", "/token", token_route)
    flow.mattermost.route("POST", APPS_API_PATH + "/oauth2/user", lambda r: (403, "forbidden"))
    assert flow.connect()["type"] == "error"  # exchange fine, store refused: the new grant is revoked
    flow.mattermost.route("POST", APPS_API_PATH + "/oauth2/user", flow.mattermost._post_user)
    for grant in flow.provider.grants:
        grant.revoked = True
    flow.expire_token()
    assert flow.call("/commands/info", TOKEN_USE_EXPAND)["type"] == "error"  # invalid_grant: cleared
    flow.mattermost.stored[ALICE.id] = json.dumps(
        {"v": 1, "fernet": Fernet(Fernet.generate_key()).encrypt(b'{"access_token": "x"}').decode()}
    ).encode()
    assert flow.call("/commands/info", TOKEN_USE_EXPAND)["type"] == "error"  # unreadable

    assert flow.connect() == {"type": "ok"}
    assert flow.call("/commands/disconnect", TOKEN_USE_EXPAND)["type"] == "ok"


def test_no_secret_in_any_log_line_or_output_at_debug(flow, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    run_everything(flow)
    captured = capsys.readouterr()
    text = "\n".join(
        [caplog.text, captured.out, captured.err, *(repr(r.args) for r in caplog.records), *(str(r.msg) for r in caplog.records)]
    )
    assert logging.getLogger().getEffectiveLevel() == logging.DEBUG  # LOG_LEVEL=DEBUG took effect
    assert len(caplog.records) >= 8  # every failure path logged its line: this is not a vacuous pass
    secret_list = flow.secrets()
    assert len(secret_list) > 30
    leaks = {s[:6] + "…": leaked(text, s) for s in secret_list if leaked(text, s)}
    assert not leaks, leaks


def test_debug_cannot_reach_the_libraries_that_log_token_bodies(flow):
    """LOG_LEVEL=DEBUG leaves urllib3, requests-oauthlib and oauthlib at INFO, children included."""
    for name in NOISY_LOGGERS:
        assert logging.getLogger(name).getEffectiveLevel() == logging.INFO, name
    for name in ("urllib3.connectionpool", "requests_oauthlib.oauth2_session", "oauthlib.oauth2.rfc6749.parameters"):
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
    assert logging.getLogger("handlers.oauth2").isEnabledFor(logging.DEBUG)


def test_the_cap_is_needed_requests_oauthlib_logs_tokens_at_debug(flow, caplog):
    """The control: lift the cap and requests-oauthlib writes the token answer (access and refresh token) to the log,
    so the cap in app.configure_logging is what keeps them out."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    flow.installed.oauth2_app = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    assert flow.connect() == {"type": "ok"}
    assert any(leaked(caplog.text, token) for token in flow.provider.issued)
