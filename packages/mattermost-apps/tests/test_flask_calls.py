"""`CallRouter` on a Flask app of its own: the checks before a handler runs, HTTP 200 with a CallResponse for every
outcome of a call route, `explain` wording each failure from its reason, and real HTTP errors everywhere else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from mattermost_apps import BadCallRequest, CallRequest, CallResponse, CallRouter, CallTooLarge, JWTRejected, lookup, ok
from mattermost_apps.testing import JWT_HEADER, sign_jwt

SECRET = "a-secret-of-at-least-32-bytes-0123456789"


def boom(call: CallRequest, services: Any) -> CallResponse:
    raise ZeroDivisionError("division by zero")  # what `1 / 0` raises, from a handler typed as one


def explain(exc: Exception) -> str:
    return f"{type(exc).__name__}:{getattr(exc, 'reason', '-')}"


@pytest.fixture
def client():
    app = Flask(__name__)
    router = CallRouter[str]()
    router.add("/hello", lambda call, services: ok(f"hello {call.value('name')} from {services}"))
    router.add("/boom", boom)
    router.install(app, jwt_secret=SECRET, services="the services", explain=explain, max_body=1024)

    @app.get("/page")
    def page() -> str:
        raise RuntimeError("a broken page")

    return app.test_client()


def signed(**headers: str) -> dict[str, str]:
    return {JWT_HEADER: "Bearer " + sign_jwt(SECRET), "Content-Type": "application/json", **headers}


def test_a_signed_call_reaches_its_handler_with_the_services(client):
    response = client.post("/hello", data=json.dumps({"values": {"name": "Alice"}}), headers=signed())
    assert (response.status_code, response.get_json()) == (200, {"type": "ok", "text": "hello Alice from the services"})


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"Content-Type": "application/json"}, b"{}", f"{JWTRejected.__name__}:missing_header"),
        (signed(), b"{not json", f"{BadCallRequest.__name__}:not_json"),
        (signed(), b'{"values": {"name": []}}', f"{BadCallRequest.__name__}:bad_value"),
        (signed(), b"{" + b" " * 2000 + b"}", f"{CallTooLarge.__name__}:too_large"),
    ],
    ids=["no JWT", "not JSON", "bad value", "over the body limit"],
)
def test_a_refused_call_is_a_200_error_worded_by_explain(client, headers, body, expected):
    response = client.post("/hello", data=body, headers=headers)
    assert (response.status_code, response.get_json()) == (200, {"type": "error", "text": expected})


def test_a_handler_that_raises_is_a_200_error_and_a_logged_traceback(client, caplog):
    response = client.post("/boom", data=b"{}", headers=signed())
    assert (response.status_code, response.get_json()) == (200, {"type": "error", "text": "ZeroDivisionError:-"})
    assert "ZeroDivisionError" in caplog.text


def test_routes_that_are_not_calls_keep_real_http_errors(client):
    assert client.get("/page").status_code == 500  # a health check fails on a broken page
    assert client.post("/nowhere", data=b"{}", headers=signed()).status_code == 404
    assert client.get("/hello").status_code == 405


def test_two_handlers_for_one_path_are_refused():
    router = CallRouter[None]()
    router.add("/a", lambda call, services: ok())
    with pytest.raises(ValueError, match="two handlers"):
        router.add("/a", lambda call, services: ok())


def test_a_lookup_is_registered_with_a_decorator_and_filters_by_what_was_typed():
    app = Flask(__name__)
    router = CallRouter[None]()
    router.add("/hello", lambda call, services: ok("hello"))  # `add` and the decorator side by side

    @router.call("/hello/lookup")
    def hello_lookup(call: CallRequest, services: Any) -> CallResponse:
        names = ["alice", "albert", "bob"] if call.selected_field == "who" else []
        return lookup(name for name in names if name.startswith(call.query))

    router.install(app, jwt_secret=SECRET, services=None, explain=explain)
    client = app.test_client()
    body = {"path": "/hello/lookup", "selected_field": "who", "query": "al", "context": {}}
    items = client.post("/hello/lookup", data=json.dumps(body), headers=signed()).get_json()["data"]["items"]
    assert [item["value"] for item in items] == ["alice", "albert"]
    del body["query"]  # the plugin leaves an empty query out
    items = client.post("/hello/lookup", data=json.dumps(body), headers=signed()).get_json()["data"]["items"]
    assert [item["value"] for item in items] == ["alice", "albert", "bob"]
    assert router.handlers["/hello/lookup"] is hello_lookup  # the decorator hands the function back unchanged
    with pytest.raises(ValueError, match="two handlers"):
        router.call("/hello")(hello_lookup)
