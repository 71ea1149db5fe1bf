"""The minimal "Mattermost webapp": login, the command box, forms, direct messages, markdown."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from stubs import StubApp, install, seed_app

from mattermost_apps.testing.emulator.plugin import Plugin
from mattermost_apps.testing.emulator.store import Store
from mattermost_apps.testing.emulator.web import render_markdown


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("[Connect](http://x.test/a?b=1&c=2) now", '<a href="http://x.test/a?b=1&amp;c=2">Connect</a> now'),
        ("[bad](javascript:alert(1))", "[bad](javascript:alert(1))"),
        ('[q](http://x.test/"onmouseover=x)', '<a href="http://x.test/&quot;onmouseover=x">q</a>'),
        ("**bold** and `co**de**`", "<strong>bold</strong> and <code>co**de**</code>"),
        ("one\ntwo", "one<br>\ntwo"),
        (
            "of type *Web application* at https://x.test/a.",
            'of type <em>Web application</em> at <a href="https://x.test/a">https://x.test/a</a>.',
        ),
        ("[x](https://x.test/b) and a*b*c, 2 * 3 * 4", '<a href="https://x.test/b">x</a> and a*b*c, 2 * 3 * 4'),
        ("Events:\n- a\n- b\nend", "Events:<br>\n<ul>\n<li>a</li>\n<li>b</li>\n</ul>\nend"),
    ],
)
def test_render_markdown(text: str, html: str) -> None:
    assert render_markdown(text) == html


def test_signed_out_home_redirects_to_login(emu: FlaskClient) -> None:
    response = emu.get("/")
    assert (response.status_code, response.headers["Location"]) == (302, "/login")
    page = emu.get("/login").get_data(as_text=True)
    assert 'name="username"' in page and 'name="password"' in page and ">Log in</button>" in page


def test_login_with_any_password_sets_the_session_cookie(emu: FlaskClient, store: Store) -> None:
    response = emu.post("/login", data={"username": "alice", "password": "anything"})
    assert (response.status_code, response.headers["Location"]) == (302, "/")
    cookie = emu.get_cookie("MMAUTHTOKEN")
    assert cookie is not None
    session = store.session(cookie.value)
    assert session is not None and session.user_id == store.user_by_name("alice").id and session.app_id == ""  # type: ignore[union-attr]
    page = emu.get("/").get_data(as_text=True)
    assert 'id="username">alice<' in page and 'name="command"' in page and ">Send</button>" in page
    assert '<ul id="messages"></ul>' in page


def test_unknown_users_cannot_log_in(emu: FlaskClient) -> None:
    response = emu.post("/login", data={"username": "mallory", "password": "x"})
    assert response.status_code == 401 and 'class="error"' in response.get_data(as_text=True)
    assert emu.get_cookie("MMAUTHTOKEN") is None


def test_messages_are_listed_newest_first(emu: FlaskClient, plugin: Plugin, store: Store) -> None:
    record = seed_app(plugin)
    alice = store.user_by_name("alice")
    assert alice is not None
    bot_token = store.create_session(record.bot.id, record.app_id)
    channel = emu.post(
        "/api/v4/channels/direct", json=[record.bot.id, alice.id], headers={"Authorization": f"Bearer {bot_token}"}
    ).get_json()["id"]
    for message in ("first", "second [link](http://x.test)"):
        emu.post(
            "/api/v4/posts", json={"channel_id": channel, "message": message}, headers={"Authorization": f"Bearer {bot_token}"}
        )
    emu.post("/login", data={"username": "alice", "password": "x"})
    page = emu.get("/messages").get_data(as_text=True)
    assert page.index("second") < page.index("first")
    assert '<a href="http://x.test">link</a>' in page and "@stub-app" in page


@pytest.mark.e2e
def test_a_command_and_a_form_through_the_page(emu: FlaskClient, stub: StubApp) -> None:
    form = {
        "title": "Configure <Stub>",
        "header": "Register `x`.",
        "submit": {"path": "/save", "state": {"k": 1}},
        "fields": [
            {"name": "client_id", "type": "text", "value": "old-id", "is_required": True},
            {"name": "client_secret", "type": "text", "subtype": "password", "is_required": True},
            {"name": "public", "type": "bool"},
            {
                "name": "color",
                "type": "static_select",
                "options": [{"label": "Red", "value": "r"}, {"label": "Blue", "value": "b"}],
            },
        ],
    }
    stub.responses["/bindings"] = {
        "type": "ok",
        "data": [
            {
                "location": "/command",
                "bindings": [
                    {
                        "label": "stub",
                        "bindings": [
                            {"label": "hi", "submit": {"path": "/hi"}},
                            {"label": "configure", "submit": {"path": "/configure"}},
                        ],
                    }
                ],
            }
        ],
    }
    stub.responses["/hi"] = {"type": "ok", "text": "Hi <b>there</b>, **friend**"}
    stub.responses["/configure"] = {"type": "form", "form": form}
    stub.responses["/save"] = {"type": "error", "text": "Nope."}
    install(emu, stub)
    emu.post("/login", data={"username": "sysadmin", "password": "x"})

    page = emu.post("/", data={"command": "/stub hi"}).get_data(as_text=True)
    assert '<div id="response">Hi &lt;b&gt;there&lt;/b&gt;, <strong>friend</strong></div>' in page

    page = emu.post("/", data={"command": "/stub configure"}).get_data(as_text=True)
    assert "Configure &lt;Stub&gt;" in page and 'value="old-id"' in page and 'type="password"' in page

    cleaned = emu.post("/_emulator/command", json={"username": "sysadmin", "command": "/stub configure"}).get_json()
    hidden = json.dumps(cleaned["form"])
    missing = emu.post("/form", data={"__form": hidden, "client_id": "new-id"}).get_data(as_text=True)
    assert 'class="error"' in missing and "client-secret: this field is required." in missing
    assert "/save" not in stub.paths()

    page = emu.post(
        "/form", data={"__form": hidden, "client_id": "new-id", "client_secret": "s3", "public": "true", "color": "b"}
    ).get_data(as_text=True)
    assert '<div class="error">Nope.</div>' in page
    body = stub.last("/save")["body"]
    assert body["values"] == {
        "client_id": "new-id",
        "client_secret": "s3",
        "public": True,
        "color": {"label": "Blue", "value": "b"},
    }
    assert body["state"] == {"k": 1}

    page = emu.post("/", data={"command": "/nothing"}).get_data(as_text=True)
    assert 'class="error"' in page
