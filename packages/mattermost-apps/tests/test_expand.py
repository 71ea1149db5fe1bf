"""Expand and the CallRequest, from the plugin's own test tables at v1.2.2 (mattermost/mattermost-plugin-apps):
`apps/expand_test.go` (TestExpandLevel), `server/proxy/expand_test.go` (TestExpand: each field x level, the
exact error texts) and `apps/call_test.go` (Call and CallRequest decoding), run against
`mattermost_apps.testing.build_call_request`, which the emulator and the unit tests use."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mattermost_apps.testing import ExpandError, ExpandGetter, InstalledApp, User, build_call_request, clean_expand, parse_level
from mattermost_apps.testing.emulator.cleanup import decode_call, encode_call
from mattermost_apps.testing.emulator.plugin import decode_call_response

# apps/expand_test.go, TestExpandLevel: (level, required, clean level, error)
LEVELS = [
    ("", False, "", None),
    ("+", True, "", None),
    ("id", False, "id", None),
    ("+id", True, "id", None),
    ("summary", False, "summary", None),
    ("+summary", True, "summary", None),
    ("all", False, "all", None),
    ("+all", True, "all", None),
    ("garbage", False, "", '"garbage" is not a known expand level'),
    ("+garbage", False, "", '"garbage" is not a known expand level'),
]


@pytest.mark.parametrize(("raw", "required", "level", "error"), LEVELS)
def test_expand_level(raw: str, required: bool, level: str, error: str | None) -> None:
    if error is not None:
        with pytest.raises(ExpandError) as caught:
            parse_level(raw)
        assert str(caught.value) == error
    else:
        assert parse_level(raw) == (required, level)


USER_ID = "user4567890123456789012345"
CHANNEL_ID = "channel7890123456789012345"
TEAM_ID = "team4567890123456789012345"
ROLES = "user_channel_roles"
ACTING_USER = User(
    id=USER_ID,
    username="test_username",
    roles="test roles",
    email="test@test.test",
    first_name="test first name",
    last_name="test last name",
    is_bot=True,
    locale="test locale",
)
CHANNEL_MEMBER = {"channel_id": CHANNEL_ID, "user_id": USER_ID, "roles": ROLES}
TEAM_MEMBER = {"team_id": TEAM_ID, "user_id": USER_ID, "roles": ROLES}


class MockGetter(ExpandGetter):
    """server/proxy/expand_test.go's MockExpandGetter: answers, or fails with the error the test sets."""

    def __init__(self, fail: str = "") -> None:
        super().__init__({USER_ID: ACTING_USER})
        self.fail = fail

    def _answer(self, value: dict[str, Any]) -> dict[str, Any]:
        if self.fail:
            raise LookupError(self.fail)
        return dict(value)

    def get_user(self, user_id: str) -> User:
        if self.fail:
            raise LookupError(self.fail)
        return super().get_user(user_id)

    def get_channel_member(self, channel_id: str, user_id: str) -> dict[str, Any]:
        return self._answer(CHANNEL_MEMBER)

    def get_team_member(self, team_id: str, user_id: str) -> dict[str, Any]:
        return self._answer(TEAM_MEMBER)


APP = InstalledApp(
    app_id="app1",
    root_url="http://app.test",
    secret="s",
    bot=User(id="botid", username="botusername", is_bot=True),
    bot_access_token="",
    site_url="https://test.mattermost.test",
    permissions=("act_as_bot",),  # the Go test's app is a builtin: its getter needs no session
)
_SUMMARY_KEYS = ("id", "delete_at", "username", "auth_service", "email", "nickname", "first_name", "last_name")


def _user_at(level: str) -> dict[str, Any] | None:
    users: dict[str, dict[str, Any]] = {
        "id": {"id": USER_ID, "username": ""},
        "summary": {"id": USER_ID, "username": "test_username", "is_bot": True},
        "all": {"id": USER_ID, "username": "test_username", "is_bot": True, "create_at": 1700000000000},
    }
    return users.get(level)


# server/proxy/expand_test.go, TestExpand: (field, case, user agent context, acting user?, getter error, level,
# expected: the expanded value, None for nothing, or the error text)
EXPAND = [
    *[
        ("acting_user", "happy with API GetUser", {}, True, "", lvl, _user_at(lvl.lstrip("+")))
        for lvl in ("all", "summary", "+all", "+summary", "id", "+id")
    ],
    ("acting_user", "happy no API", {}, True, "", "", None),
    (
        "acting_user",
        "error GetUser fail",
        {},
        True,
        "forbidden",
        "+all",
        "failed to expand required acting_user: id: user4567890123456789012345: forbidden",
    ),
    (
        "acting_user",
        "error GetUser fail",
        {},
        True,
        "forbidden",
        "+summary",
        "failed to expand required acting_user: id: user4567890123456789012345: forbidden",
    ),
    ("acting_user", "error GetUser fail", {}, True, "forbidden", "all", None),
    ("acting_user", "error GetUser fail", {}, True, "forbidden", "summary", None),
    ("acting_user", "error invalid", {}, True, "", "garbage", '"garbage" is not a known expand level'),
    ("acting_user", "error invalid", {}, True, "", "+garbage", '"garbage" is not a known expand level'),
    ("acting_user", "error no ID", {}, False, "", "+id", "failed to expand required acting_user: no user ID to expand"),
    ("acting_user", "error no ID", {}, False, "", "+all", "failed to expand required acting_user: no user ID to expand"),
    *[
        ("channel_member", "happy with API GetChannelMemner", {"channel_id": CHANNEL_ID}, True, "", lvl, want)
        for lvl, want in (
            ("+id", {"user_id": USER_ID, "channel_id": CHANNEL_ID}),
            ("id", {"user_id": USER_ID, "channel_id": CHANNEL_ID}),
            ("summary", CHANNEL_MEMBER),
            ("+all", CHANNEL_MEMBER),
        )
    ],
    ("channel_member", "happy no API", {"channel_id": CHANNEL_ID}, True, "", "", None),
    (
        "channel_member",
        "error no user ID",
        {"channel_id": CHANNEL_ID},
        False,
        "",
        "+all",
        "failed to expand required channel_member: no user ID or channel ID to expand",
    ),
    (
        "channel_member",
        "error no channel ID",
        {},
        True,
        "",
        "+all",
        "failed to expand required channel_member: no user ID or channel ID to expand",
    ),
    (
        "channel_member",
        "error API",
        {"channel_id": CHANNEL_ID},
        True,
        "ERROR",
        "+all",
        "failed to expand required channel_member: failed to get channel membership: ERROR",
    ),
    *[
        ("team_member", "happy with API GetTeamMember", {"team_id": TEAM_ID}, True, "", lvl, want)
        for lvl, want in (
            ("+id", {"user_id": USER_ID, "team_id": TEAM_ID}),
            ("id", {"user_id": USER_ID, "team_id": TEAM_ID}),
            ("+all", TEAM_MEMBER),
            ("summary", TEAM_MEMBER),
        )
    ],
    ("team_member", "happy with no API", {"team_id": TEAM_ID}, True, "", "", None),
    (
        "team_member",
        "no user ID",
        {"team_id": TEAM_ID},
        False,
        "",
        "+all",
        "failed to expand required team_member: no user ID or channel ID to expand",
    ),
    (
        "team_member",
        "no team ID",
        {},
        True,
        "",
        "+all",
        "failed to expand required team_member: no user ID or channel ID to expand",
    ),
    (
        "team_member",
        "API error",
        {"team_id": TEAM_ID},
        True,
        "ERROR",
        "+all",
        "failed to expand required team_member: failed to get team membership: ERROR",
    ),
]


@pytest.mark.parametrize(
    ("key", "case", "user_agent", "has_user", "fail", "level", "expected"),
    EXPAND,
    ids=[f"{e[0]}-{e[1]}-{e[5] or 'none'}" for e in EXPAND],
)
def test_expand(key: str, case: str, user_agent: dict[str, str], has_user: bool, fail: str, level: str, expected: Any) -> None:
    call = {"path": "/x", "expand": {key: level}}
    acting_user = ACTING_USER if has_user else None
    kwargs: dict[str, Any] = {
        "acting_user": acting_user,
        "user_agent": user_agent,
        "getter": MockGetter(fail),
        "developer_mode": True,
    }
    if isinstance(expected, str):
        with pytest.raises(ExpandError) as caught:
            build_call_request(APP, call, **kwargs)
        assert str(caught.value) == expected
        return
    context = build_call_request(APP, call, **kwargs)["context"]
    assert {k: context[k] for k in ("mattermost_site_url", "developer_mode", "app_path", "bot_user_id")} == {
        "mattermost_site_url": "https://test.mattermost.test",
        "developer_mode": True,
        "app_path": "/plugins/com.mattermost.apps/apps/app1",
        "bot_user_id": "botid",
    }
    if expected is None:
        assert key not in context
    elif key == "acting_user":
        assert {k: context[key].get(k) for k in expected} == expected
    else:
        assert context[key] == expected
    for other in ("acting_user", "channel_member", "team_member", "channel_id", "team_id", "user_id"):
        if other != key:
            assert other not in context, other  # only what was asked for, and never the user agent's ids


def test_expand_levels_per_field_and_the_order_errors_come_in() -> None:
    # acting_user_access_token, oauth2_app and oauth2_user act on "all" only; app on summary and all
    with pytest.raises(ExpandError) as caught:  # the steps run in Go's order: acting_user before user
        build_call_request(
            APP, {"path": "/x", "expand": {"user": "garbage", "acting_user": "+id"}}, acting_user=None, getter=MockGetter()
        )
    assert str(caught.value) == "failed to expand required acting_user: no user ID to expand"
    context = build_call_request(
        APP, {"path": "/x", "expand": {"app": "id", "oauth2_app": "summary", "locale": "id"}}, acting_user=ACTING_USER
    )["context"]
    assert "app" not in context and context["oauth2"] == {} and context["locale"] == "test locale"


def test_an_app_without_act_as_permissions_cannot_expand_but_may_ask_for_nothing() -> None:
    app = InstalledApp(**{**APP.__dict__, "permissions": ()})
    assert (
        "acting_user"
        not in build_call_request(app, {"path": "/x", "expand": {"acting_user": ""}}, acting_user=ACTING_USER)["context"]
    )
    with pytest.raises(ExpandError) as caught:
        build_call_request(app, {"path": "/x", "expand": {"acting_user": "summary"}}, acting_user=ACTING_USER)
    assert str(caught.value) == "apps without any ActAs* permission can't expand: unauthorized"


@pytest.mark.parametrize(
    ("expand", "sent"),
    [
        (None, None),
        ({}, {}),
        ({"acting_user": "", "made_up": "all"}, {}),
        (
            {"oauth2_user": "all", "app": "summary", "acting_user": "id"},
            {"app": "summary", "acting_user": "id", "oauth2_user": "all"},
        ),
    ],
)
def test_the_expand_sent_to_the_app_is_re_serialised(expand: dict[str, str] | None, sent: dict[str, str] | None) -> None:
    request = build_call_request(APP, {"path": "/x", "expand": expand}, acting_user=ACTING_USER)
    assert request.get("expand") == sent and ("expand" in request) is (sent is not None)
    if sent:
        assert list(request["expand"]) == list(sent)  # Go's struct order
    assert clean_expand(expand) == sent


# apps/call_test.go, TestUnmarshalCall: a Call as an object, and as a bare string
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            '{"path": "/test", "state": {"key": "value"}, "expand": {"acting_user": "all"}}',
            {"path": "/test", "expand": {"acting_user": "all"}, "state": {"key": "value"}},
        ),
        ('"/test"', {"path": "/test"}),
    ],
)
def test_unmarshal_call(raw: str, expected: dict[str, Any]) -> None:
    call = decode_call(json.loads(raw))
    assert call is not None and encode_call(call) == expected


def test_unmarshal_call_request_keeps_a_select_value_object() -> None:
    # apps/call_test.go, TestUnmarshalCallRequest: values pass through, a select is {"label", "value"}
    values = {"secret": "cywc3e8nebyujrpuip98t69a3h", "selected_option": {"label": "The Label", "value": "The Value"}}
    request = build_call_request(
        APP, {"path": "/x"}, acting_user=None, values=values, user_agent={"team_id": "9pu8hstcpigm5x4dboe6hz9ddw"}
    )
    assert request["values"] == values and "team_id" not in request["context"]


def test_marshal_call_response_keeps_a_fields_value() -> None:
    # apps/call_test.go, TestMarshalCallResponse: a form field's value survives decoding and encoding
    response = decode_call_response(b'{"type": "form", "form": {"fields": [{"name": "field1", "value": "value1"}]}}')
    field = response["form"]["fields"][0]
    assert (field["name"], field["value"]) == ("field1", "value1")


def test_the_locale_of_an_acting_user_expanded_at_id_is_the_servers() -> None:
    # `expandLocale` reads the expanded acting user, which level "id" strips to its id: no locale, so the server's
    # default; at "summary" the user's own; with no acting user expanded, the user read by id.
    def locale(expand: dict[str, str]) -> str:
        return build_call_request(APP, {"path": "/x", "expand": expand}, acting_user=ACTING_USER)["context"]["locale"]

    assert locale({"acting_user": "id", "locale": "all"}) == "en"
    assert locale({"acting_user": "summary", "locale": "all"}) == "test locale"
    assert locale({"locale": "all"}) == "test locale"
