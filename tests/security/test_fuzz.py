"""Item 4, property-based: generated CallRequests, each with a valid JWT, on every call route of the app.

Two generators: fully random JSON (and random bytes), and "almost valid" requests built exactly as the plugin
builds them and then mutated (a field replaced by random JSON, deleted, or made huge or odd unicode). Every answer
must be a valid CallResponse, and no request may reach the app's catch-all error handler. Outbound HTTP goes to
`requests_mock` only: the app's provider and Mattermost URLs answer plausibly, and any other URL (a mutated
`mattermost_site_url`) fails as an unreachable host would.

1,300 examples in all (500 + 800), in about 6 s.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import re
from typing import Any, TypedDict

import requests
import requests_mock as requests_mock_module
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from mattermost_apps.testing import DEFAULT_COMPLETE_EXPAND, DEFAULT_CONNECT_EXPAND, InstalledApp, build_call_request, sign_jwt
from tests.conftest import (
    ADMIN,
    ADMIN_TOKEN,
    ALICE,
    ALICE_TOKEN,
    APP_SECRET,
    APPS_API,
    CALENDAR_API,
    CLIENT_ID,
    CLIENT_SECRET,
    CONFIGURE_SUBMIT_EXPAND,
    CONNECT_EXPAND,
    HELP_EXPAND,
    REVOKE_URL,
    SITE_URL,
    TOKEN_URL,
    TOKEN_USE_EXPAND,
    USERINFO_URL,
    installed_app,
    make_settings,
)

from .support import a_record, acting_id, seal
from .test_bad_input import Unhandled, check_call_response

RANDOM_EXAMPLES = 500
ALMOST_VALID_EXAMPLES = 800


class FuzzSettings(TypedDict):
    """The `settings` keywords both fuzz tests share, typed each as `settings` takes it (a plain dict's values are
    inferred as one union, which no keyword accepts)."""

    deadline: None
    database: None
    suppress_health_check: tuple[HealthCheck, ...]


FUZZ_SETTINGS: FuzzSettings = {
    "deadline": None,
    "database": None,
    "suppress_health_check": (HealthCheck.too_slow, HealthCheck.data_too_large),
}

# -- strategies -------------------------------------------------------------------------------------------

odd_text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec=None, categories=("Cs", "Cc", "Cf", "Zs", "Mn", "So")), max_size=20),
    st.sampled_from(
        [
            "",
            " ",
            "null",
            "none",
            "+all",
            "\u202e",
            "\x00",
            "../../etc/passwd",
            "<script>",
            "%00",
            ALICE.id,
            ADMIN.id,
            "system_admin",
            "ya29.",
            "1//",
            "http://127.0.0.1:1/",
        ]
    ),
)
huge_text = st.builds(
    lambda piece, n: piece * n, st.sampled_from(["a", "é", "😀", "\ud800", " ", "\\", '"']), st.integers(1000, 12000)
)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    odd_text,
)
json_value = st.recursive(
    json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4), max_leaves=10
)
mutation_value = st.one_of(json_value, huge_text, odd_text)

TOP_KEYS = ("path", "expand", "state", "values", "context", "raw_command", "selected_field", "query")
random_body = st.one_of(
    st.binary(max_size=120),
    json_value.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({}, optional={k: json_value for k in TOP_KEYS}).map(lambda v: json.dumps(v).encode()),
)

ROUTE_EXPAND = {
    "/bindings": {"acting_user": "summary", "oauth2_app": "all", "oauth2_user": "all"},
    "/oauth2/connect": DEFAULT_CONNECT_EXPAND,
    "/oauth2/complete": DEFAULT_COMPLETE_EXPAND,
    "/configure/form": CONFIGURE_SUBMIT_EXPAND,
    "/configure/submit": CONFIGURE_SUBMIT_EXPAND,
    "/commands/connect": CONNECT_EXPAND,
    "/commands/help": HELP_EXPAND,
}
PLAUSIBLE_VALUES = st.fixed_dictionaries(
    {},
    optional={
        "state": st.sampled_from(["AbCdEfGhIjKlMnOpQrSt." + ALICE.id, "x", ""]),
        "code": st.sampled_from(["4/0Acode", ""]),
        "error": st.sampled_from(["access_denied", "server_error", "x" * 300]),
        "scope": st.just("email profile"),
        "client_id": st.sampled_from([CLIENT_ID, "", "two words"]),
        "client_secret": st.sampled_from([CLIENT_SECRET, ""]),
        "calendar": st.sampled_from([{"label": "Work", "value": "Work"}, {"label": "c_w", "value": "c_w"}, "nope", None]),
    },
)


def tree_paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    paths = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            paths.extend(tree_paths(child, (*prefix, key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            paths.extend(tree_paths(child, (*prefix, index)))
    return paths


def mutate(body: dict[str, Any], path: tuple, action: str, value: Any) -> None:
    parent: Any = body
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "delete" and isinstance(parent, dict):
        del parent[last]
    else:
        parent[last] = value


@st.composite
def almost_valid(draw: st.DrawFn, installed: InstalledApp, routes: list[str], records: list[Any]) -> tuple[str, dict]:
    route = draw(st.sampled_from(routes))
    user = draw(st.sampled_from([ALICE, ADMIN, None]))
    expand = ROUTE_EXPAND.get(route, TOKEN_USE_EXPAND)
    stored = draw(st.sampled_from(records))
    installed.oauth2_app = draw(st.sampled_from([{}, {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}]))
    body = build_call_request(
        installed,
        {"path": route, "expand": dict(expand), "state": draw(st.none() | json_value)},
        acting_user=user,
        acting_user_access_token={ALICE.id: ALICE_TOKEN, ADMIN.id: ADMIN_TOKEN}.get(user.id, "") if user else "",
        stored_oauth2_user=json.dumps(stored).encode() if stored is not None else None,
        values=draw(PLAUSIBLE_VALUES),
    )
    body = copy.deepcopy(body)  # mutations must not reach the shared expand constants
    # Hypothesis favours the first elements of a sampled_from (and small numbers); a Random seeded from a drawn
    # integer spreads the mutations evenly over the request's tree, and stays reproducible.
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))  # noqa: S311 - not for security
    for _ in range(draw(st.integers(1, 3))):
        path = rnd.choice(tree_paths(body)[1:])
        mutate(body, path, draw(st.sampled_from(["replace", "replace", "delete"])), draw(mutation_value))
    return route, body


# -- the harness ------------------------------------------------------------------------------------------


def mock_outbound(mocker: requests_mock_module.Mocker) -> None:
    """Plausible answers from every URL the app calls; anything else is an unreachable host."""
    mocker.register_uri(requests_mock_module.ANY, requests_mock_module.ANY, exc=requests.exceptions.ConnectionError)
    mocker.post(
        TOKEN_URL,
        json={
            "access_token": "ya29.fuzz",
            "refresh_token": "1//fuzz",
            "expires_in": 3599,
            "scope": "openid email",
            "token_type": "Bearer",
        },
    )
    mocker.get(USERINFO_URL, json={"sub": "1087", "email": "alice@gmail.com", "name": "Alice"})
    mocker.post(REVOKE_URL, text="")
    mocker.get(
        re.compile(re.escape(CALENDAR_API) + r"/calendars/[^/]+/events.*"),
        json={
            "items": [
                {"summary": "Standup", "start": {"dateTime": "2030-01-02T09:00:00Z"}, "end": {"dateTime": "2030-01-02T09:15:00Z"}}
            ]
        },
    )
    mocker.get(
        re.compile(re.escape(CALENDAR_API) + r"/users/me/calendarList.*"),
        json={
            "items": [{"id": "alice@gmail.com", "summary": "alice@gmail.com", "primary": True}, {"id": "c_w", "summary": "Work"}]
        },
    )
    mocker.get(APPS_API + "/oauth2/user", text="")
    mocker.post(APPS_API + "/oauth2/user", text="")
    mocker.post(APPS_API + "/oauth2/app", text="")
    mocker.post(SITE_URL + "/api/v4/channels/direct", json={"id": "dm"})
    mocker.post(SITE_URL + "/api/v4/posts", json={"id": "p"})


class Harness:
    def __init__(self) -> None:
        self.app = create_app(make_settings())
        self.client = self.app.test_client()
        self.routes = sorted(r.rule for r in self.app.url_map.iter_rules() if "POST" in (r.methods or ()))
        self.unhandled = Unhandled()
        self.seen_routes: set[str] = set()
        self.types: dict[str, int] = {}
        cipher = self.app.extensions["services"].tokens._cipher
        self.records = [
            None,
            cipher.seal(a_record(), user_id=ALICE.id),
            cipher.seal(a_record(expires_in=-30), user_id=ALICE.id),
            seal(a_record(), "A" * 43 + "="),
            {"v": 1, "fernet": "junk"},
            {},
        ]

    def post(self, route: str, data: bytes, acting_user_id: str) -> dict[str, Any]:
        headers = {
            "Content-Type": "application/json",
            "Mattermost-App-Authorization": "Bearer " + sign_jwt(APP_SECRET, acting_user_id),
        }
        self.unhandled.records.clear()
        response = self.client.post(route, data=data, headers=headers)
        answer = check_call_response(response.status_code, response.content_type, response.data)
        assert not self.unhandled.records, [r.getMessage() for r in self.unhandled.records]
        if route == "/oauth2/connect" and answer["type"] == "ok":
            assert isinstance(answer.get("data"), str), answer  # the plugin needs a string URL here
        self.seen_routes.add(route)
        self.types[answer["type"]] = self.types.get(answer["type"], 0) + 1
        return answer


def run_fuzz(test: Any) -> Harness:
    harness = Harness()
    logger = logging.getLogger("mattermost_apps.flask_calls")
    logger.addHandler(harness.unhandled)
    try:
        with requests_mock_module.Mocker() as mocker:
            mock_outbound(mocker)
            test(harness)
    finally:
        logger.removeHandler(harness.unhandled)
    assert set(harness.routes) == harness.seen_routes, set(harness.routes) - harness.seen_routes
    return harness


def test_random_json_and_bytes_on_every_route():
    def fuzz(harness: Harness) -> None:
        @settings(max_examples=RANDOM_EXAMPLES, **FUZZ_SETTINGS)
        @given(route=st.sampled_from(harness.routes), body=random_body, acting=st.sampled_from([ALICE.id, ""]))
        def one(route: str, body: bytes, acting: str) -> None:
            harness.post(route, body, acting)

        one()

    harness = run_fuzz(fuzz)
    assert harness.types.get("error", 0) > 0


def test_almost_valid_plugin_requests_with_mutated_fields_on_every_route():
    installed = installed_app()

    def fuzz(harness: Harness) -> None:
        @settings(max_examples=ALMOST_VALID_EXAMPLES, **FUZZ_SETTINGS)
        @given(data=st.data())
        def one(data: st.DataObject) -> None:
            route, body = data.draw(almost_valid(installed, harness.routes, harness.records))
            harness.post(route, json.dumps(body).encode(), acting_id(body))

        one()

    harness = run_fuzz(fuzz)
    # The mutations leave many requests valid enough to be served: the fuzz reaches the handlers, not just the parser.
    assert harness.types.get("ok", 0) > 50 and harness.types.get("error", 0) > 50, harness.types
