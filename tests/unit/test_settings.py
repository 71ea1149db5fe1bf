"""Settings: one typed object from the environment, validated at start; the JWT secret generated
once into a private file when unset; `app.py` exposes the WSGI `app` (settings.py, app.py)."""

from __future__ import annotations

import ast
import logging
import re
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask import Flask

import app as app_module
from provider import AppProvider, Identity, calendar
from settings import ServerSettings, Settings, SettingsError, log_config
from user_tokens import TokenCipher, TokenRecord

KEY_1 = Fernet.generate_key().decode()
KEY_2 = Fernet.generate_key().decode()


@pytest.fixture
def env(tmp_path):
    """A minimal environment: a secret file in a temporary folder, nothing else set."""
    return {"APP_SECRET_FILE": str(tmp_path / "instance" / "app_secret")}


def test_defaults_are_the_providers_and_localhost(env):
    settings = Settings.from_env({**env, "APP_SECRET": "s" * 32})
    assert settings.root_url == "http://localhost:8080"
    assert settings.mattermost_site_url is None
    assert settings.oauth2_authorize_url == AppProvider.authorize_url
    assert settings.oauth2_token_url == AppProvider.token_url
    assert settings.oauth2_revoke_url == AppProvider.revoke_url
    assert settings.oauth2_userinfo_url == AppProvider.userinfo_url
    assert settings.oauth2_issuer == AppProvider.issuer
    assert settings.google_api_url == calendar.API_URL
    assert settings.oauth2_scopes == AppProvider.scopes
    assert settings.token_encryption_keys == ()
    assert settings.log_level == "INFO"
    assert settings.provider_urls_are_insecure is False


def test_root_url_follows_port_when_unset(env):
    # `PORT=18080 make run` must not advertise http://localhost:8080 to Mattermost.
    assert Settings.from_env({**env, "APP_SECRET": "s" * 32, "PORT": "18080"}).root_url == "http://localhost:18080"
    explicit = {**env, "APP_SECRET": "s" * 32, "PORT": "18080", "ROOT_URL": "http://app.internal:8080"}
    assert Settings.from_env(explicit).root_url == "http://app.internal:8080"


def test_every_variable_is_read(env):
    settings = Settings.from_env(
        {
            **env,
            "APP_SECRET": "from-env-secret",
            "PORT": "9090",
            "ROOT_URL": "https://apps.example.com/oauth2-app/",
            "MATTERMOST_SITE_URL": "http://mattermost:8065",
            "OAUTH2_AUTHORIZE_URL": "http://127.0.0.1:3000/auth",
            "OAUTH2_TOKEN_URL": "http://127.0.0.1:3000/token",
            "OAUTH2_REVOKE_URL": "http://127.0.0.1:3000/token/revocation",
            "OAUTH2_USERINFO_URL": "http://127.0.0.1:3000/me",
            "OAUTH2_SCOPES": "openid  email\toffline_access",
            "GOOGLE_API_URL": "http://127.0.0.1:3001/calendar/v3",
            "TOKEN_ENCRYPTION_KEY": f" {KEY_1} , {KEY_2} ",
            "HTTP_TIMEOUT": "3.5",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings.app_secret == "from-env-secret"
    assert settings.root_url == "https://apps.example.com/oauth2-app/"
    assert settings.manifest_root_url == "https://apps.example.com/oauth2-app"
    assert settings.mattermost_site_url == "http://mattermost:8065"
    assert settings.oauth2_authorize_url == "http://127.0.0.1:3000/auth"
    assert settings.oauth2_token_url == "http://127.0.0.1:3000/token"
    assert settings.oauth2_revoke_url == "http://127.0.0.1:3000/token/revocation"
    assert settings.oauth2_userinfo_url == "http://127.0.0.1:3000/me"
    assert settings.oauth2_scopes == ("openid", "email", "offline_access")
    assert settings.google_api_url == "http://127.0.0.1:3001/calendar/v3"
    assert settings.token_encryption_keys == (KEY_1, KEY_2)
    assert settings.http_timeout == 3.5
    assert settings.log_level == "DEBUG"
    assert settings.provider_urls_are_insecure is True


def test_blank_values_count_as_unset(env):
    settings = Settings.from_env(
        {
            **env,
            "APP_SECRET": "s",
            "PORT": "  ",
            "ROOT_URL": "",
            "OAUTH2_SCOPES": " ",
            "MATTERMOST_SITE_URL": " ",
            "LOG_LEVEL": "",
        }
    )
    assert (settings.root_url, settings.oauth2_scopes, settings.mattermost_site_url, settings.log_level) == (
        "http://localhost:8080",
        AppProvider.scopes,
        None,
        "INFO",
    )


def test_secrets_are_not_in_the_repr():
    settings = Settings(app_secret="do-not-print-me", token_encryption_keys=(KEY_1,))
    assert "do-not-print-me" not in repr(settings) and KEY_1 not in repr(settings)


@pytest.mark.parametrize(
    ("variables", "expected_message"),
    [
        ({"PORT": "eighty"}, "PORT must be a whole number, not 'eighty'."),
        ({"PORT": "80.5"}, "PORT must be a whole number"),
        ({"ROOT_URL": "localhost:8080"}, "ROOT_URL must be an absolute http(s) URL with a host"),
        ({"ROOT_URL": "ftp://app.example.com"}, "ROOT_URL must be an absolute http(s) URL with a host"),
        ({"ROOT_URL": "/oauth2-app"}, "ROOT_URL must be an absolute http(s) URL with a host"),
        ({"ROOT_URL": "http://"}, "ROOT_URL must be an absolute http(s) URL with a host"),
        ({"MATTERMOST_SITE_URL": "mattermost:8065"}, "MATTERMOST_SITE_URL must be an absolute http(s) URL"),
        ({"OAUTH2_AUTHORIZE_URL": "accounts.example.com"}, "OAUTH2_AUTHORIZE_URL must be an absolute http(s) URL"),
        ({"OAUTH2_TOKEN_URL": "file:///etc/passwd"}, "OAUTH2_TOKEN_URL must be an absolute http(s) URL"),
        ({"OAUTH2_REVOKE_URL": "revoke"}, "OAUTH2_REVOKE_URL must be an absolute http(s) URL"),
        ({"OAUTH2_USERINFO_URL": "javascript:alert(1)"}, "OAUTH2_USERINFO_URL must be an absolute http(s) URL"),
        ({"GOOGLE_API_URL": "calendar.example.com"}, "GOOGLE_API_URL must be an absolute http(s) URL"),
        ({"LOG_LEVEL": "VERBOSE"}, "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL."),
        ({"TOKEN_ENCRYPTION_KEY": "not-a-fernet-key"}, "TOKEN_ENCRYPTION_KEY must be a comma-separated list of Fernet keys"),
        ({"TOKEN_ENCRYPTION_KEY": f"{KEY_1},short"}, "TOKEN_ENCRYPTION_KEY must be a comma-separated list of Fernet keys"),
        ({"HTTP_TIMEOUT": "soon"}, "HTTP_TIMEOUT must be a number of seconds, not 'soon'."),
        ({"HTTP_TIMEOUT": "0"}, "HTTP_TIMEOUT must be a positive number of seconds."),
        ({"HTTP_TIMEOUT": "-1"}, "HTTP_TIMEOUT must be a positive number of seconds."),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_a_bad_value_stops_the_start_with_a_message_naming_the_variable(env, variables, expected_message):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**env, "APP_SECRET": "s", **variables})
    assert str(raised.value).startswith(expected_message)


def test_a_bad_encryption_key_is_not_echoed(env):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**env, "APP_SECRET": "s", "TOKEN_ENCRYPTION_KEY": "almost-a-secret-key"})
    assert "almost-a-secret-key" not in str(raised.value)


@pytest.mark.parametrize(
    ("field", "value", "expected_message"),
    [
        ("app_secret", "", "APP_SECRET must not be empty."),
        ("oauth2_scopes", (), "OAUTH2_SCOPES must name at least one scope."),
    ],
)
def test_direct_construction_is_validated_too(field, value, expected_message):
    values = {"app_secret": "s", field: value}
    with pytest.raises(SettingsError, match=expected_message):
        Settings(**values)


# -- APP_SECRET generated on first start --------------------------------------------------------------


def test_app_secret_is_generated_into_a_private_file_on_first_start(env, tmp_path):
    settings = Settings.from_env(env)
    secret_file = tmp_path / "instance" / "app_secret"
    assert secret_file.read_text().strip() == settings.app_secret
    assert len(settings.app_secret) >= 32
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600


def test_the_generated_secret_is_reused_on_the_next_start(env):
    assert Settings.from_env(env).app_secret == Settings.from_env(env).app_secret


def test_each_installation_gets_its_own_secret(tmp_path):
    first = Settings.from_env({"APP_SECRET_FILE": str(tmp_path / "a")}).app_secret
    second = Settings.from_env({"APP_SECRET_FILE": str(tmp_path / "b")}).app_secret
    assert first != second


def test_the_log_names_the_file_and_the_install_field_but_never_the_secret(env, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    secret = Settings.from_env(env).app_secret
    warnings = [r for r in caplog.records if r.name == "settings"]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert str(tmp_path / "instance" / "app_secret") in message
    assert '"Outgoing JWT Secret"' in message
    assert secret not in caplog.text


def test_the_admin_is_told_only_once(env, caplog):
    Settings.from_env(env)
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    Settings.from_env(env)
    assert [r for r in caplog.records if r.name == "settings"] == []


def test_app_secret_from_the_environment_creates_no_file(env, tmp_path):
    assert Settings.from_env({**env, "APP_SECRET": "from-env"}).app_secret == "from-env"
    assert not (tmp_path / "instance" / "app_secret").exists()


def test_an_admin_provided_secret_file_is_used_stripped(env, tmp_path):
    secret_file = tmp_path / "instance" / "app_secret"
    secret_file.parent.mkdir()
    secret_file.write_text("  my-own-secret\n")
    assert Settings.from_env(env).app_secret == "my-own-secret"


def test_an_empty_secret_file_is_a_clear_error_not_an_empty_secret(env, tmp_path):
    # Before: "APP_SECRET must not be empty." though the admin never set APP_SECRET.
    secret_file = tmp_path / "instance" / "app_secret"
    secret_file.parent.mkdir()
    secret_file.write_text("\n")
    with pytest.raises(SettingsError, match="is empty: delete that file to generate a new secret, or set APP_SECRET"):
        Settings.from_env(env)
    assert secret_file.read_text() == "\n"


def test_no_temporary_file_is_left_behind(env, tmp_path):
    Settings.from_env(env)
    assert [p.name for p in (tmp_path / "instance").iterdir()] == ["app_secret"]


# -- app.py -----------------------------------------------------------------------------------------------


def test_app_module_exposes_the_wsgi_app_built_from_the_environment(monkeypatch, env):
    for name, value in {**env, "APP_SECRET": "wsgi-secret-0123456789abcdef0123456789", "ROOT_URL": "http://wsgi.test"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(app_module, "_app", None)
    wsgi = app_module.app
    assert isinstance(wsgi, Flask)
    assert app_module.app is wsgi  # built once
    assert wsgi.test_client().get("/manifest.json").get_json()["http"]["root_url"] == "http://wsgi.test"


def test_app_module_has_no_other_lazy_attributes():
    with pytest.raises(AttributeError):
        _ = app_module.no_such_thing


def test_the_keys_derived_from_app_secret_never_change():
    # Every stored record is sealed with the derived token key, and every PKCE verifier computed with the derived
    # PKCE key: a change of salt, purpose or algorithm makes every user's connection unreadable.
    settings = Settings(app_secret="test-app-secret-0123456789abcdef0123456789")
    assert settings.token_keys == ("1Df7U5Ff3KPcD6RMqqDCaVGi2tSpA4zUSZrvojSoDwU=",)
    assert settings.pkce_key.hex() == "46dbdcf5f998f98c8aa449b4ba90e6867ba20c9e60640f07c7b267b5f7d521ba"


def test_token_encryption_key_encrypts_and_the_derived_key_only_decrypts():
    """Moving a default deployment to TOKEN_ENCRYPTION_KEY keeps every stored record readable: the derived key comes
    last, so it never seals a record and each one is sealed under the new key at its next write."""
    derived = Settings(app_secret="s" * 32).token_keys
    keys = Settings(app_secret="s" * 32, token_encryption_keys=(KEY_1, KEY_2)).token_keys
    assert keys == (KEY_1, KEY_2, *derived)
    record = TokenRecord("at", "rt", None, "", "Bearer", Identity("sub", "", ""))
    sealed = TokenCipher(derived).seal(record, user_id="u")
    assert TokenCipher(keys).open(sealed, user_id="u") == record
    resealed = TokenCipher(keys).seal(record, user_id="u")
    assert TokenCipher((KEY_1,)).open(resealed, user_id="u") == record


def test_log_lines_escape_control_characters_in_what_they_quote():
    """A caller's text (an expand key, a site URL) in a message cannot end the line or forge another, in either format."""
    forged = "key\n2026-01-01 00:00:00,000 WARNING [1] app: forged\x00\x7f\u2028"
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "bad expand key %s", (forged,), None)
    for log_format in ("text", "json"):
        config = log_config("INFO", log_format)["formatters"]["line"]
        formatter = config["()"](fmt=config["fmt"]) if log_format == "text" else config["()"]()
        line = formatter.format(record)
        assert "\n" not in line and "\x00" not in line and "\x7f" not in line and "\u2028" not in line, line
        assert "forged" in line


def test_the_readme_table_lists_exactly_the_variables_the_code_reads():
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Settings") : readme.index("## Install into Mattermost")]
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", table, re.M))
    code = (root / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'(?:get|env\.get)\("([A-Z0-9_]+)"', code)) | set(re.findall(r'\("([A-Z0-9_]+)", _\w+\)', code))
    read |= {"LOG_LEVEL", "LOG_FORMAT"}
    assert documented == read


@pytest.mark.parametrize(
    ("variables", "expected_message"),
    [
        ({"WEB_CONCURRENCY": "two"}, "WEB_CONCURRENCY must be a whole number, not 'two'."),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY must be a number of worker processes from 1 to 64, not 0."),
        ({"PORT": "70000"}, "PORT must be between 1 and 65535, not 70000."),
        ({"PORT": "0"}, "PORT must be between 1 and 65535, not 0."),
        ({"HOST": "a b"}, "HOST must be a host name or an IP address"),
        ({"GUNICORN_WORKER_CONNECTIONS": "5"}, "GUNICORN_WORKER_CONNECTIONS must be from 10 to 100000"),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_a_bad_server_setting_names_the_variable(variables, expected_message):
    with pytest.raises(SettingsError) as raised:
        ServerSettings.from_env(variables)
    assert str(raised.value).startswith(expected_message)


@pytest.mark.parametrize(
    ("variables", "expected_message"),
    [
        ({"CALL_DEADLINE": "30"}, "CALL_DEADLINE must be at least HTTP_TIMEOUT (10 s) and under the plugin's 30 s, not 30."),
        ({"CALL_DEADLINE": "5"}, "CALL_DEADLINE must be at least HTTP_TIMEOUT (10 s)"),
        ({"CALL_DEADLINE": "later"}, "CALL_DEADLINE must be a number of seconds, not 'later'."),
        ({"OAUTH2_ROTATES_REFRESH_TOKENS": "maybe"}, "OAUTH2_ROTATES_REFRESH_TOKENS must be true or false, not 'maybe'."),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL must be a redis://, rediss:// or unix:// URL."),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be one of text, json."),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_a_bad_new_setting_names_the_variable(env, variables, expected_message):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**env, "APP_SECRET": "s", **variables})
    assert str(raised.value).startswith(expected_message)


def test_a_bad_value_leaves_no_generated_secret_behind(env, tmp_path):
    with pytest.raises(SettingsError):
        Settings.from_env({**env, "LOG_LEVEL": "verbose"})
    assert not (tmp_path / "instance" / "app_secret").exists()


def test_a_setting_that_denies_the_provider_classs_rotation_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """False on a class that says its refresh tokens rotate would lose grants: one line, naming the setting. The other
    way round (true on a class that says they do not) only costs a round trip, and is the override's use."""
    import settings as settings_module

    class Rotating(settings_module.AppProvider):
        rotates_refresh_tokens = True

    monkeypatch.setattr(settings_module, "AppProvider", Rotating)
    with pytest.raises(SettingsError, match=r"^OAUTH2_ROTATES_REFRESH_TOKENS=false contradicts"):
        Settings.from_env({"APP_SECRET": "s" * 32, "OAUTH2_ROTATES_REFRESH_TOKENS": "false"})
    assert Settings.from_env({"APP_SECRET": "s" * 32, "OAUTH2_ROTATES_REFRESH_TOKENS": "true"}).oauth2_rotates_refresh_tokens
    assert Settings.from_env({"APP_SECRET": "s" * 32}).oauth2_rotates_refresh_tokens is None  # the class decides


def test_an_empty_environment_gives_the_fields_own_defaults(env):
    # Each default is written once, on the dataclass field: reading the environment adds none of its own.
    read = Settings.from_env({**env, "APP_SECRET": "s" * 32})
    built = Settings(app_secret="s" * 32, site_url_file=read.site_url_file)
    assert read == built


def test_gunicorn_conf_holds_only_the_servers_settings():
    # `python -m app` reads and checks the app's settings once; gunicorn.conf.py reads only gunicorn's own.
    tree = ast.parse((Path(__file__).resolve().parents[2] / "gunicorn.conf.py").read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert "ServerSettings" in imported and "Settings" not in imported
