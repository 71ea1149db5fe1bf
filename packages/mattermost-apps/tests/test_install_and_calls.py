"""Install, the CallRequest the app receives, bindings and slash commands, against a stub app on loopback.

Plugin v1.2.2 (mattermost/mattermost-plugin-apps): `server/proxy/install.go`, `server/proxy/expand.go`,
`upstream/uphttp/upstream.go`, `server/proxy/invoke_bindings.go`; the webapp's slash-command parser
(`app_command_parser.ts` in mattermost/mattermost) for the commands."""

from __future__ import annotations

import time
from typing import Any
from unittest import mock

import pytest
from flask.testing import FlaskClient
from stubs import PNG, SITE_URL, STUB_SECRET, StubApp, install, session_token

from mattermost_apps.testing.emulator.store import Store

pytestmark = pytest.mark.e2e

API = "/plugins/com.mattermost.apps/api/v1"


def _answer(response: Any) -> dict[str, Any]:
    """What the webapp goes on with; `app_metadata` (the plugin adds it to every answer it gets) is checked and left out."""
    assert response.status_code == 200
    answer = response.get_json()
    if answer["type"] != "error" or "app_metadata" in answer:
        assert answer.pop("app_metadata") == {"bot_user_id": mock.ANY, "bot_username": "stub-app"}
    return answer


def command(emu: FlaskClient, username: str, text: str) -> dict[str, Any]:
    return _answer(emu.post("/_emulator/command", json={"username": username, "command": text}))


def submit(emu: FlaskClient, username: str, call: dict[str, Any], values: dict[str, Any] | None = None) -> dict[str, Any]:
    return _answer(emu.post("/_emulator/submit", json={"username": username, "call": call, "values": values or {}}))


def app_calls(stub: StubApp) -> list[str]:
    """The calls the app got besides /bindings (the emulator fetches the bindings for every command it runs)."""
    return [path for path in stub.paths() if path != "/bindings"]


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


PING_FAILED = "failed to install, /ping path is not accessible: failed to call /ping endpoint: failed to invoke via HTTP: "


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((500, 200), PING_FAILED + '{"type": "ok"}'),  # a non-200 answer's body is the error text
        ((200, 404), "failed to get bot icon: failed to download icon: icon.png: received status code 404"),
    ],
)
def test_install_aborts(emu: FlaskClient, stub: StubApp, store: Store, statuses: tuple[int, int], expected: str) -> None:
    stub.ping_status, stub.icon_status = statuses
    result = install(emu, stub)
    assert (result["status"], result["error"]) == (400, expected)
    assert store.app is None and store.user_by_name("stub-app") is None


def test_install_refuses_an_invalid_manifest(emu: FlaskClient, stub: StubApp, store: Store) -> None:
    stub.manifest_overrides.update(version="v00_00_0000", requested_permissions=["remote_oauth2"])
    result = install(emu, stub)
    assert result == {
        "status": 400,
        "error": "2 errors occurred:\n"
        "\t* version v00_00_0000 too long, should be in v00_00_000 format: invalid input\n"
        "\t* use a remote (3rd party) OAuth2 and store secrets requires use Mattermost REST API as connected users"
        ": invalid input\n\n",
    }
    assert stub.calls == [] and store.app is None


def test_an_on_install_error_is_appended_after_the_period(emu: FlaskClient, stub: StubApp) -> None:
    stub.manifest_overrides["on_install"] = {"path": "/installed"}
    stub.responses["/installed"] = {"type": "error", "text": "Not today."}
    assert install(emu, stub)["text"] == "Installed app `stub-app`: Stub App., despite on_install failure: Not today."


def test_an_empty_install_secret_still_signs(emu: FlaskClient, stub: StubApp) -> None:
    stub.verify_with = ""
    assert install(emu, stub, secret="")["status"] == 200
    assert stub.last("/ping")["claims"] is not None and set(stub.last("/ping")["claims"]) == {"exp"}


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
    # app-minted tokens carry the app, are not the user's own session, and are reused while they live
    bot_session = store.session(context["bot_access_token"])
    user_session = store.session(context["acting_user_access_token"])
    assert bot_session is not None and bot_session.app_id == "stub-app" and bot_session.user_id == store.app.bot.id  # type: ignore[union-attr]
    assert user_session is not None and user_session.app_id == "stub-app" and user_session.user_id == alice.id
    submit(emu, "alice", {"path": "/echo", "expand": {"acting_user_access_token": "all"}})
    assert stub.last("/echo")["body"]["context"]["acting_user_access_token"] == context["acting_user_access_token"]
    assert emu.post("/_emulator/sessions/expire").get_json()["expired"] >= 2
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
    assert result["status"] == 400 and result["error"].startswith(PING_FAILED + "<!doctype html>")


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
        ({"acting_user": "none"}, 'failed to expand context: "none" is not a known expand level'),
        ({"acting_user": "-summary"}, 'failed to expand context: "-summary" is not a known expand level'),
        ({"acting_user": "+garbage"}, 'failed to expand context: "garbage" is not a known expand level'),
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
    assert submit(emu, "alice", {"path": "/broken"}) == {
        "type": "error",
        "text": "upstream call failed: failed to invoke via HTTP: boom from the app",
    }
    assert submit(emu, "alice", {"path": "/garbage"}) == {
        "type": "error",
        "text": "upstream call failed: invalid character 'o' in literal null (expecting 'u')",
    }
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
    assert submit(emu, "alice", {"path": "//gone/"}) == {
        "type": "error",
        "text": f"upstream call failed: failed to invoke via HTTP: {stub.url}/gone: not found",
    }


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
    answer = emu.get(API + "/bindings?test=1", headers={"Authorization": f"Bearer {token}"}).get_json()
    bindings = answer["bindings"]
    assert len(bindings) == 1 and bindings[0]["location"] == "/command"  # /channel_header, /nowhere: not granted
    group = bindings[0]["bindings"][0]
    assert group["icon"] == SITE_URL + "/plugins/com.mattermost.apps/apps/stub-app/static/icon.png"
    # v1.2.2 keeps the duplicate label (the web client drops it), and a form binding whatever its fields
    assert [b["label"] for b in group["bindings"]] == ["good", "good", "formy"]
    assert all(b["app_id"] == "stub-app" for b in [group, *group["bindings"]])
    form = group["bindings"][2]["form"]
    assert form["submit"] == {"path": "/f"} and form["fields"] == [{"name": "ok", "type": "", "label": "ok"}]
    assert answer["error"].splitlines()[1:] == [
        '\t* /command/stub/two words: command label "two words" has multiple words',
        '\t* /command/stub/both: (only) one of  "submit", "form", or "bindings" must be set in a binding',
        '\t* /command/stub/none: (only) one of  "submit", "form", or "bindings" must be set in a binding',
        '\t* field name must be a single word: "two words"',
        "\t* no options for static select: sel",
        "\t* /channel_header: location is not granted: forbidden",
        "\t* /nowhere: location is not granted: forbidden",
        "",
    ]


def test_a_command_walks_the_bindings_by_label_and_a_submit_binding_takes_no_flags(emu: FlaskClient, stub: StubApp) -> None:
    stub.responses["/bindings"] = stub_bindings(
        {"location": "hi", "label": "hello", "submit": {"path": "/hello", "expand": {"acting_user": "summary"}, "state": "s"}}
    )
    install(emu, stub)
    stub.responses["/hello"] = {"type": "ok", "text": "Hello!"}
    assert command(emu, "bob", "/STUB Hello") == {"type": "ok", "text": "Hello!"}
    body = stub.last("/hello")["body"]
    assert "values" not in body and body["raw_command"] == "/stub Hello"  # the trigger lower-cased, as the webapp sends it
    assert body["state"] == "s" and body["context"]["acting_user"]["username"] == "bob"
    assert body["expand"] == {"acting_user": "summary"}
    calls = app_calls(stub)
    # Mattermost: a submit binding gets a form with no fields, so no flag and no word is accepted
    assert command(emu, "bob", "/stub hello --name Bob") == {
        "type": "error",
        "text": "Parsing error: Command does not accept flag `name`.",
    }
    assert command(emu, "bob", "/stub hello Bob") == {"type": "error", "text": "Parsing error: Unable to identify argument."}
    assert command(emu, "bob", "/stub nope") == {"type": "error", "text": "Parsing error: You must select a subcommand."}
    assert command(emu, "bob", "/stub") == {"type": "error", "text": "Parsing error: You must select a subcommand."}
    assert command(emu, "bob", "/other") == {"type": "error", "text": "Command with a trigger of '/other' not found."}
    assert app_calls(stub) == calls  # none of these reached the app


def test_a_form_binding_is_submitted_with_the_values_parsed_from_the_command(emu: FlaskClient, stub: StubApp) -> None:
    form = {
        "title": "F",
        "submit": {"path": "/f-submit"},
        "fields": [
            {"name": "color", "type": "text", "label": "Colour", "is_required": True},
            {"name": "shade", "type": "static_select", "options": [{"label": "Dark", "value": "d"}]},
            {"name": "loud", "type": "bool"},
        ],
    }
    stub.responses["/bindings"] = stub_bindings({"label": "ask", "form": form})
    install(emu, stub)
    calls = app_calls(stub)
    # A required field with no value: the webapp refuses to submit, naming the field's label
    assert command(emu, "alice", "/stub ask") == {"type": "error", "text": "Required fields missing: `Colour`."}
    # flags match the label (the name `color` is not one), case-insensitively; bool flags need no value
    assert command(emu, "alice", "/stub ask --color blue") == {
        "type": "error",
        "text": "Parsing error: Command does not accept flag `color`.",
    }
    assert app_calls(stub) == calls
    assert command(emu, "alice", '/stub ask --COLOUR "deep blue" --shade d --loud')["type"] == "ok"
    body = stub.last("/f-submit")["body"]
    assert body["values"] == {"color": "deep blue", "shade": {"label": "Dark", "value": "d"}, "loud": True}
    assert command(emu, "alice", "/stub ask --colour red --shade x") == {
        "type": "error",
        "text": "Unknown option for field `shade`: `x`.\n",
    }


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


# server/proxy/bindings_test.go, TestRefreshBindingsEventAfterCall
@pytest.mark.parametrize(
    ("path", "answer", "published"),
    [
        ("/refresh", {"type": "ok", "refresh_bindings": True}, True),
        ("/refresh-error", {"type": "error", "text": "no", "refresh_bindings": True}, False),
        ("/no-refresh", {"type": "ok"}, False),
        ("/bindings", {"type": "ok", "refresh_bindings": True}, False),  # the bindings call's own answer never refreshes
    ],
)
def test_refresh_bindings_event_after_call(
    emu: FlaskClient, stub: StubApp, store: Store, path: str, answer: dict, published: bool
) -> None:
    install(emu, stub)
    emu.post("/_emulator/log/clear")
    stub.responses[path] = answer
    submit(emu, "alice", {"path": path})
    alice = store.user_by_name("alice")
    assert alice is not None
    assert emu.get("/_emulator/log").get_json()["events"] == (
        [{"event": "refresh_bindings", "user_id": alice.id}] if published else []
    )


def test_the_static_route_needs_a_user_and_copies_the_requests_content_type(emu: FlaskClient, stub: StubApp) -> None:
    # server/httpin/static.go: GetApp requires a user; the upstream status is passed on; Content-Type is the request's
    install(emu, stub)
    url = "/plugins/com.mattermost.apps/apps/stub-app/static/icon.png"
    response = emu.get(url)
    assert (response.status_code, response.get_data(as_text=True).strip()) == (401, "user ID is required: unauthorized")
    emu.set_cookie("MMAUTHTOKEN", session_token(emu, "alice"))
    response = emu.get(url, headers={"Content-Type": "text/x-from-the-request"})
    assert (response.status_code, response.data, response.headers["Content-Type"]) == (200, PNG, "text/x-from-the-request")
    stub.icon_status = 404
    assert emu.get(url).status_code == 404
    response = emu.get("/plugins/com.mattermost.apps/apps/stub-app/static/%2e%2e%252Fx")
    assert (response.status_code, response.get_data(as_text=True).strip()) == (400, 'bad path: "../x": invalid input')
