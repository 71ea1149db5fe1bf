"""`/<command> configure`: the admin's form, and storing the client with `POST /oauth2/app`
(which replaces the whole record) as the acting admin (handlers/configure.py)."""

from __future__ import annotations

import json

import pytest
import requests

from handlers import messages
from tests.conftest import (
    ADMIN,
    ADMIN_TOKEN,
    ALICE,
    CLIENT_ID,
    CLIENT_SECRET,
    CONFIGURE_FORM_EXPAND,
    CONFIGURE_SUBMIT_EXPAND,
    paths,
)

from .conftest import COMPLETE_URL, OAUTH2_APP_URL

NEW_ID = "5678-new.client.example.test"
NEW_SECRET = "GOCSPX-new-client-secret-abcd"


def submit(plugin, user=ADMIN, expand=CONFIGURE_SUBMIT_EXPAND, **values):
    return plugin.call(paths.CONFIGURE_SUBMIT, expand, user=user, values=values)


def fields_by_name(form):
    return {field["name"]: field for field in form["fields"]}


# -- the form -------------------------------------------------------------------------------------------


def test_form_has_client_id_prefilled_and_a_password_field_for_the_secret(plugin, requests_mock):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    result = plugin.call(paths.CONFIGURE_FORM, CONFIGURE_FORM_EXPAND, user=ADMIN)
    assert result["type"] == "form"
    fields = fields_by_name(result["form"])
    assert list(fields) == ["client_id", "client_secret"]
    assert fields["client_id"]["type"] == "text" and fields["client_id"]["value"] == CLIENT_ID
    assert fields["client_secret"]["type"] == "text" and fields["client_secret"]["subtype"] == "password"
    assert requests_mock.request_history == []


def test_form_never_sends_the_stored_secret_back(plugin):
    # hello-oauth2 and zendesk showed the secret in clear; the form only hints at its last 4 characters.
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    result = plugin.call(paths.CONFIGURE_FORM, CONFIGURE_FORM_EXPAND, user=ADMIN)
    assert CLIENT_SECRET not in json.dumps(result)
    secret_field = fields_by_name(result["form"])["client_secret"]
    assert "value" not in secret_field
    assert not secret_field["is_required"]
    assert CLIENT_SECRET[-4:] in secret_field["description"]


def test_form_before_first_configure_requires_the_secret(plugin):
    result = plugin.call(paths.CONFIGURE_FORM, CONFIGURE_FORM_EXPAND, user=ADMIN)
    fields = fields_by_name(result["form"])
    assert fields["client_id"]["value"] == ""
    assert fields["client_secret"]["is_required"] is True


def test_form_shows_the_exact_redirect_uri_and_submits_with_the_submit_expand(plugin):
    result = plugin.call(paths.CONFIGURE_FORM, CONFIGURE_FORM_EXPAND, user=ADMIN)
    form = result["form"]
    assert f"`{COMPLETE_URL}`" in form["header"]
    assert form["submit"] == {"path": paths.CONFIGURE_SUBMIT, "expand": CONFIGURE_SUBMIT_EXPAND}


@pytest.mark.parametrize("expand", [CONFIGURE_FORM_EXPAND, {"oauth2_app": "all"}], ids=["user", "no acting user"])
def test_form_is_refused_to_a_non_admin(plugin, requests_mock, expand):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    result = plugin.call(paths.CONFIGURE_FORM, expand, user=ALICE)
    assert result == {"type": "error", "text": messages.text("configure.admin_only")}
    assert requests_mock.request_history == []


# -- submit: success ----------------------------------------------------------------------------------


def test_submit_stores_the_client_as_the_acting_admin(plugin, mattermost):
    result = submit(plugin, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert result["type"] == "ok" and result["refresh_bindings"] is True
    request = mattermost.oauth2_app.last_request
    assert mattermost.oauth2_app.call_count == 1
    assert request.headers["Authorization"] == f"Bearer {ADMIN_TOKEN}"  # never the bot: the plugin refuses it
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


def test_confirmation_shows_only_the_last_4_characters_and_the_exact_redirect_uri(plugin, mattermost):
    text = submit(plugin, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)["text"]
    assert CLIENT_SECRET not in text and CLIENT_SECRET[:-4] not in text
    assert f"`…{CLIENT_SECRET[-4:]}`" in text
    assert f"`{COMPLETE_URL}`" in text
    assert f"`{CLIENT_ID}`" in text


def test_a_short_secret_is_not_shown_at_all(plugin, mattermost):
    text = submit(plugin, client_id=CLIENT_ID, client_secret="qrst9876")["text"]
    assert "9876" not in text and "qrst" not in text
    assert "(secret ending in `…`)" in text


@pytest.mark.parametrize("secret_value", ["", "   ", None], ids=["empty", "blank", "absent"])
def test_an_empty_secret_keeps_the_stored_one(plugin, mattermost, secret_value):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    values = {"client_id": NEW_ID} if secret_value is None else {"client_id": NEW_ID, "client_secret": secret_value}
    result = submit(plugin, **values)
    assert result["type"] == "ok", result
    assert json.loads(mattermost.oauth2_app.last_request.body) == {"client_id": NEW_ID, "client_secret": CLIENT_SECRET}


def test_a_new_secret_replaces_the_stored_one(plugin, mattermost):
    plugin.configure(CLIENT_ID, CLIENT_SECRET)
    submit(plugin, client_id=CLIENT_ID, client_secret=NEW_SECRET)
    assert json.loads(mattermost.oauth2_app.last_request.body)["client_secret"] == NEW_SECRET


def test_values_are_trimmed(plugin, mattermost):
    submit(plugin, client_id=f"  {CLIENT_ID}\n", client_secret=f" {CLIENT_SECRET} ")
    assert json.loads(mattermost.oauth2_app.last_request.body) == {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


def test_remote_root_url_and_data_are_carried_over(plugin, mattermost):
    # POST /oauth2/app replaces the whole record: what the form does not show would otherwise be wiped.
    plugin.installed.oauth2_app = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "remote_root_url": "https://accounts.example.test",
        "data": {"domain": "example.com"},
    }
    submit(plugin, client_id=NEW_ID, client_secret="")
    assert json.loads(mattermost.oauth2_app.last_request.body) == {
        "client_id": NEW_ID,
        "client_secret": CLIENT_SECRET,
        "remote_root_url": "https://accounts.example.test",
        "data": {"domain": "example.com"},
    }


# -- submit: refused before anything is sent ------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "expand"),
    [
        (ALICE, CONFIGURE_SUBMIT_EXPAND),
        (ADMIN, {"acting_user_access_token": "all", "oauth2_app": "all"}),  # roles unknown: not an admin
        (ADMIN, {"acting_user": "id", "acting_user_access_token": "all"}),  # "id" level carries no roles
    ],
    ids=["non-admin", "no acting user", "acting user without roles"],
)
def test_crafted_submit_from_a_non_admin_is_refused_and_nothing_is_stored(plugin, requests_mock, user, expand):
    result = submit(plugin, user=user, expand=expand, client_id=NEW_ID, client_secret=NEW_SECRET)
    assert result == {"type": "error", "text": messages.text("configure.admin_only")}
    assert requests_mock.request_history == []


@pytest.mark.parametrize(
    ("values", "expected_text"),
    [
        ({"client_secret": NEW_SECRET}, "The client ID is required."),
        ({"client_id": "  ", "client_secret": NEW_SECRET}, "The client ID is required."),
        (
            {"client_id": "1234 5678.client.example.test", "client_secret": NEW_SECRET},
            "The client ID must be one word of at most 512 characters.",
        ),
        ({"client_id": "1234\t5678", "client_secret": NEW_SECRET}, "The client ID must be one word of at most 512 characters."),
        ({"client_id": "x" * 513, "client_secret": NEW_SECRET}, "The client ID must be one word of at most 512 characters."),
        ({"client_id": CLIENT_ID, "client_secret": "s" * 513}, "The client secret must be at most 512 characters."),
        ({"client_id": CLIENT_ID}, "The client secret is required: none is stored yet."),
        ({"client_id": CLIENT_ID, "client_secret": ""}, "The client secret is required: none is stored yet."),
    ],
    ids=[
        "no id",
        "blank id",
        "id with a space",
        "id with a tab",
        "id too long",
        "secret too long",
        "first configure without secret",
        "first configure with empty secret",
    ],
)
def test_invalid_submit_is_refused_and_nothing_is_stored(plugin, requests_mock, values, expected_text):
    result = submit(plugin, **values)
    assert result == {"type": "error", "text": expected_text}
    assert requests_mock.request_history == []


def test_longest_allowed_client_id_is_accepted(plugin, mattermost):
    assert submit(plugin, client_id="x" * 512, client_secret=NEW_SECRET)["type"] == "ok"


def test_select_shaped_values_are_read(plugin, mattermost):
    # Clients may send {"label", "value"} objects; the plugin's Go helpers accept both shapes.
    submit(plugin, client_id={"label": "id", "value": CLIENT_ID}, client_secret=CLIENT_SECRET)
    assert json.loads(mattermost.oauth2_app.last_request.body)["client_id"] == CLIENT_ID


# -- submit: Mattermost fails ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected_text"),
    [
        (
            {
                "status_code": 401,
                "text": "access to this operation is limited to users with permission: manage_system: unauthorized",
            },
            "Mattermost refused to store the OAuth2 client (HTTP 401).",
        ),
        (
            {"status_code": 401, "text": "not an app session: unauthorized"},
            "Mattermost refused to store the OAuth2 client (HTTP 401).",
        ),
        (
            {"status_code": 500, "text": "size limit of 8Kb exceeded"},
            "Mattermost failed to store the OAuth2 client (HTTP 500); please try again.",
        ),
        ({"exc": requests.ConnectionError}, "Mattermost could not be reached from the app; please try again in a minute."),
        ({"exc": requests.Timeout}, "Mattermost could not be reached from the app; please try again in a minute."),
    ],
    ids=["401 not admin", "401 not an app session", "500", "unreachable", "timeout"],
)
def test_mattermost_failure_is_one_clear_sentence(plugin, requests_mock, answer, expected_text):
    requests_mock.post(OAUTH2_APP_URL, **answer)
    result = submit(plugin, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert result == {"type": "error", "text": expected_text}
    assert CLIENT_SECRET not in result["text"]


def test_missing_acting_user_token_is_explained(plugin, requests_mock):
    result = submit(
        plugin, expand={"acting_user": "summary", "oauth2_app": "all"}, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    assert result["type"] == "error" and "acting_user_access_token" in result["text"]
    assert requests_mock.request_history == []
