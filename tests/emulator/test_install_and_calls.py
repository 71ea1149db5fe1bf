"""Install (§10), the CallRequest the app receives (§2, §6) and bindings cleanup (§11), against a stub app on loopback."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.apps_plugin.store import Store
from tests.emulator.conftest import SITE_URL, STUB_SECRET, StubApp, install, session_token

pytestmark = pytest.mark.e2e

API = "/plugins/com.mattermost.apps/api/v1"


def command(emu: FlaskClient, username: str, text: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    response = emu.post("/_emulator/command", json={"username": username, "command": text, "values": values or {}})
    assert response.status_code == 200
    return response.get_json()


def submit(emu: FlaskClient, username: str, call: dict[str, Any], values: dict[str, Any] | None = None) -> dict[str, Any]:
    response = emu.post("/_emulator/submit", json={"username": username, "call": call, "values": values or {}})
    assert response.status_code == 200
    return response.get_json()


def stub_bindings(*subs: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "ok",
        "data": [
            {
                "location": "/command",
                "bindings": [{"location": "stub", "label": "stub", "icon": "icon.png", "bindings": list(subs)}],
            }
        ],
    }


# -- install ----------------------------------------------------------------------------------------------


def test_install_pings_fetches_the_icon_creates_the_bot_and_calls_on_install(
    emu: FlaskClient, stub: StubApp, store: Store
) -> None:
    stub.manifest_overrides["on_install"] = {"path": "/installed", "expand": {"acting_user": "summary"}}
    stub.responses["/installed"] = {"type": "ok", "text": "Now run /stub configure."}
    result = install(emu, stub)
    assert result == {"status": 200, "text": "Installed app `stub-app`: Stub App.\n\nNow run /stub configure."}
    assert stub.paths() == ["/ping", "/installed"]
    assert stub.last("/installed")["body"]["context"]["acting_user"]["username"] == "sysadmin"
    assert stub.last("/installed")["claims"]["acting_user_id"] == store.user_by_name("sysadmin").id  # type: ignore[union-attr]
    bot = store.user_by_name("stub-app")
    assert bot is not None and bot.is_bot
    assert store.app is not None and store.app.secret == STUB_SECRET


def test_install_without_on_install_checks_the_bindings_once(emu: FlaskClient, stub: StubApp) -> None:
    assert install(emu, stub) == {"status": 200, "text": "Installed app `stub-app`: Stub App."}
    assert stub.paths() == ["/ping", "/bindings"]


def test_ping_is_sent_without_expand_but_with_a_jwt(emu: FlaskClient, stub: StubApp) -> None:
    install(emu, stub)
    ping = stub.last("/ping")
    assert ping["body"] == {
        "path": "/ping",
        "context": {"app_id": "", "mattermost_site_url": "", "app_path": "", "bot_user_id": "", "oauth2": {}},
    }
    assert set(ping["claims"]) == {"exp"}


def test_install_succeeds_when_ping_is_404(emu: FlaskClient, stub: StubApp, store: Store) -> None:
    stub.ping_status = 404
    assert install(emu, stub)["status"] == 200
    assert store.app is not None


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((500, 200), "/ping failed"),
        ((200, 404), "failed to get bot icon"),
    ],
)
def test_install_aborts(emu: FlaskClient, stub: StubApp, store: Store, statuses: tuple[int, int], expected: str) -> None:
    stub.ping_status, stub.icon_status = statuses
    result = install(emu, stub)
    assert result["status"] == 400 and expected in result["error"]
    assert store.app is None and store.user_by_name("stub-app") is None


def test_install_refuses_an_invalid_manifest(emu: FlaskClient, stub: StubApp, store: Store) -> None:
    stub.manifest_overrides.update(version="v00_00_0000", requested_permissions=["remote_oauth2"])
    result = install(emu, stub)
    assert result["status"] == 400
    assert "longer than 10 characters" in result["error"] and "remote_oauth2 requires act_as_user" in result["error"]
    assert stub.calls == [] and store.app is None


def test_install_of_an_unreachable_manifest_fails(emu: FlaskClient, stub: StubApp) -> None:
    response = emu.post("/_emulator/install", json={"manifest_url": stub.url + "/nope.json", "secret": "s"})
    assert response.status_code == 400 and "HTTP 405" in response.get_json()["error"]  # the stub only POSTs there


def test_the_bot_gets_a_suffix_when_a_person_owns_the_name(emu: FlaskClient, stub: StubApp, store: Store) -> None:
    stub.manifest_overrides["app_id"] = "Alice"
    install(emu, stub)
    assert store.app is not None and store.app.bot.username == "alice-app"


# -- the CallRequest --------------------------------------------------------------------------------------


def test_context_after_cleanup(emu: FlaskClient, stub: StubApp, store: Store) -> None:
    install(emu, stub)
    response = submit(
        emu,
        "alice",
        {"path": "/echo", "expand": {"acting_user": "id", "acting_user_access_token": "all"}, "state": {"n": 1}},
        {"x": "1"},
    )
    assert response["type"] == "ok"
    body = stub.last("/echo")["body"]
    context = body["context"]
    alice = store.user_by_name("alice")
    assert alice is not None
    assert context["app_id"] == "" and context["oauth2"] == {}
    assert context["mattermost_site_url"] == SITE_URL
    assert context["app_path"] == "/plugins/com.mattermost.apps/apps/stub-app"
    assert context["acting_user"]["id"] == alice.id and context["acting_user"]["username"] == ""
    for absent in ("acting_user_id", "user_id", "channel_id", "location", "user_agent", "track_as_submit"):
        assert absent not in context
    assert (body["path"], body["state"], body["values"]) == ("/echo", {"n": 1}, {"x": "1"})
    # app-minted tokens: fresh per call, carry the app, distinct from the user's own session
    bot_session = store.session(context["bot_access_token"])
    user_session = store.session(context["acting_user_access_token"])
    assert bot_session is not None and bot_session.app_id == "stub-app" and bot_session.user_id == store.app.bot.id  # type: ignore[union-attr]
    assert user_session is not None and user_session.app_id == "stub-app" and user_session.user_id == alice.id
    submit(emu, "alice", {"path": "/echo", "expand": {"acting_user_access_token": "all"}})
    assert stub.last("/echo")["body"]["context"]["acting_user_access_token"] != context["acting_user_access_token"]


def test_jwt_is_hs256_with_exp_and_the_acting_user(emu: FlaskClient, stub: StubApp, store: Store) -> None:
    install(emu, stub)
    submit(emu, "bob", {"path": "/a", "expand": {"acting_user": "summary"}})
    submit(emu, "bob", {"path": "/b", "expand": {}})
    claims_a, claims_b = stub.last("/a")["claims"], stub.last("/b")["claims"]
    assert claims_a["acting_user_id"] == store.user_by_name("bob").id  # type: ignore[union-attr]
    assert "acting_user_id" not in claims_b
    assert 14 * 60 < claims_a["exp"] - time.time() <= 15 * 60


def test_a_wrong_install_secret_makes_every_call_fail_at_the_app(emu: FlaskClient, stub: StubApp) -> None:
    # The stub checks the JWT with its own secret: a mismatch raises, the stub answers 500, the call is an error.
    result = install(emu, stub, secret="another secret, 32 bytes or longer!")
    assert result["status"] == 400 and "/ping failed" in result["error"]


@pytest.mark.parametrize(
    ("stored", "has_user"),
    [
        (None, False),
        ("null", False),
        ("{}", False),
        ('{"access_token": "t"}', True),
        ('"a string"', True),
    ],
)
def test_oauth2_user_is_left_out_when_nothing_null_or_empty_is_stored(
    emu: FlaskClient, stub: StubApp, store: Store, stored: str | None, has_user: bool
) -> None:
    install(emu, stub)
    alice = store.user_by_name("alice")
    assert alice is not None
    if stored is not None:
        store.oauth2_users[("stub-app", alice.id)] = stored.encode()
    response = submit(emu, "alice", {"path": "/use", "expand": {"oauth2_user": "+all", "oauth2_app": "all"}})
    assert response["type"] == "ok"
    oauth2 = stub.last("/use")["body"]["context"]["oauth2"]
    assert ("user" in oauth2) is has_user
    assert oauth2["connect_url"] == SITE_URL + "/plugins/com.mattermost.apps/apps/stub-app/oauth2/remote/connect"
    assert oauth2["complete_url"] == SITE_URL + "/plugins/com.mattermost.apps/apps/stub-app/oauth2/remote/complete"


@pytest.mark.parametrize(
    ("expand", "text"),
    [
        ({"acting_user": "none"}, '"none" is not a known expand level'),
        ({"acting_user": "-summary"}, '"-summary" is not a known expand level'),
    ],
)
def test_unknown_expand_levels_fail_the_whole_call(emu: FlaskClient, stub: StubApp, expand: dict[str, str], text: str) -> None:
    install(emu, stub)
    assert submit(emu, "alice", {"path": "/x", "expand": expand}) == {"type": "error", "text": text}
    assert "/x" not in stub.paths()


def test_app_errors_become_call_errors(emu: FlaskClient, stub: StubApp) -> None:
    install(emu, stub)
    stub.responses["/broken"] = (500, "boom from the app")
    stub.responses["/garbage"] = (200, "not json")
    assert submit(emu, "alice", {"path": "/broken"}) == {"type": "error", "text": "boom from the app"}
    assert submit(emu, "alice", {"path": "/garbage"})["type"] == "error"
    stub.responses["/empty-type"] = {"text": "hi"}
    assert submit(emu, "alice", {"path": "/empty-type"}) == {"type": "ok", "text": "hi"}
    log = emu.get("/_emulator/log").get_json()["app_calls"]
    assert [(c["path"], c["status"], c["type"]) for c in log[-3:]] == [
        ("/broken", 500, None),
        ("/garbage", 200, None),
        ("/empty-type", 200, "ok"),
    ]


def test_a_404_from_the_app_names_the_url(emu: FlaskClient, stub: StubApp) -> None:
    install(emu, stub)
    stub.responses["/gone"] = (404, "")
    assert submit(emu, "alice", {"path": "//gone/"}) == {"type": "error", "text": f"{stub.url}/gone: not found"}


# -- bindings and commands --------------------------------------------------------------------------------


def test_bindings_are_cleaned(emu: FlaskClient, stub: StubApp) -> None:
    stub.responses["/bindings"] = {
        "type": "ok",
        "data": [
            {
                "location": "/command",
                "bindings": [
                    {
                        "location": "stub",
                        "label": "stub",
                        "icon": "icon.png",
                        "bindings": [
                            {"label": "good", "submit": {"path": "/good"}},
                            {"label": "two words", "submit": {"path": "/x"}},
                            {"label": "both", "submit": {"path": "/x"}, "form": {"submit": {"path": "/x"}}},
                            {"label": "none"},
                            {"label": "good", "submit": {"path": "/duplicate"}},
                            {
                                "label": "formy",
                                "form": {
                                    "submit": "/f",
                                    "fields": [{"name": "ok"}, {"name": "two words"}, {"name": "sel", "type": "static_select"}],
                                },
                            },
                        ],
                    }
                ],
            },
            {"location": "/channel_header", "bindings": [{"label": "x", "submit": {"path": "/x"}}]},
            {"location": "/nowhere", "bindings": [{"label": "x", "submit": {"path": "/x"}}]},
        ],
    }
    install(emu, stub)
    token = session_token(emu, "alice")
    bindings = emu.get(API + "/bindings", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert len(bindings) == 1 and bindings[0]["location"] == "/command"  # /channel_header is not granted
    group = bindings[0]["bindings"][0]
    assert group["icon"] == SITE_URL + "/plugins/com.mattermost.apps/apps/stub-app/static/icon.png"
    assert [b["label"] for b in group["bindings"]] == ["good", "formy"]
    assert all(b["app_id"] == "stub-app" for b in [group, *group["bindings"]])
    form = group["bindings"][1]["form"]
    assert form["submit"] == {"path": "/f"} and form["fields"] == [{"name": "ok", "type": "text", "label": "ok"}]


def test_a_command_walks_the_bindings_and_submits(emu: FlaskClient, stub: StubApp) -> None:
    stub.responses["/bindings"] = stub_bindings(
        {"label": "hello", "submit": {"path": "/hello", "expand": {"acting_user": "summary"}, "state": "s"}}
    )
    install(emu, stub)
    stub.responses["/hello"] = {"type": "ok", "text": "Hello!"}
    assert command(emu, "bob", "/stub hello --name Bob") == {"type": "ok", "text": "Hello!"}
    body = stub.last("/hello")["body"]
    assert body["values"] == {"name": "Bob"} and body["raw_command"] == "/stub hello --name Bob"
    assert body["state"] == "s" and body["context"]["acting_user"]["username"] == "bob"
    assert command(emu, "bob", "/stub nope")["type"] == "error"
    assert command(emu, "bob", "/other")["type"] == "error"


def test_a_form_binding_is_returned_and_its_submit_works(emu: FlaskClient, stub: StubApp) -> None:
    form = {"title": "F", "submit": {"path": "/f-submit"}, "fields": [{"name": "color", "type": "text"}]}
    stub.responses["/bindings"] = stub_bindings({"label": "ask", "form": form})
    install(emu, stub)
    result = command(emu, "alice", "/stub ask")
    assert result["type"] == "form" and result["form"]["fields"][0]["name"] == "color"
    assert submit(emu, "alice", result["form"]["submit"], {"color": "blue"})["type"] == "ok"
    assert stub.last("/f-submit")["body"]["values"] == {"color": "blue"}


def test_a_form_response_is_cleaned_and_an_invalid_one_is_an_error(emu: FlaskClient, stub: StubApp) -> None:
    install(emu, stub)
    stub.responses["/form"] = {
        "type": "form",
        "form": {"submit": {"path": "/s"}, "icon": "icon.png", "fields": [{"name": "a b"}, {"name": "ok", "type": "bool"}]},
    }
    stub.responses["/bad-form"] = {"type": "form", "form": {"title": "no submit"}}
    response = submit(emu, "alice", {"path": "/form"})
    assert response["form"]["fields"] == [{"name": "ok", "type": "bool", "label": "ok"}]
    assert response["form"]["icon"].startswith(SITE_URL + "/plugins/com.mattermost.apps/apps/stub-app/static/")
    assert submit(emu, "alice", {"path": "/bad-form"})["type"] == "error"
