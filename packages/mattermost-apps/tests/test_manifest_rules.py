"""Manifest, path and URL rules, from the plugin's own test tables at v1.2.2 (mattermost/mattermost-plugin-apps):
`apps/manifest_test.go`, `utils/path_test.go`, `utils/httputils/url_test.go`, with Go's error texts."""

from __future__ import annotations

from typing import Any

import pytest
from stubs import stub_manifest

from mattermost_apps.testing.emulator import golang
from mattermost_apps.testing.emulator.manifest_rules import (
    InvalidInput,
    clean_static_url,
    decode_manifest,
    url_problem,
    validate_app_id,
    validate_manifest,
    validate_version,
)

ROOT = "http://127.0.0.1:8080"

# apps/manifest_test.go, TestValidateAppID
APP_IDS = [
    ("", False),
    ("a", False),
    ("ab", False),
    ("abc", True),
    ("abcdefghijklmnopqrstuvwxyzabcdef", True),
    ("abcdefghijklmnopqrstuvwxyzabcdefg", False),
    ("../path", False),
    ("/etc/passwd", False),
    ("com.mattermost.app-0.9", True),
    ("CAPS-ARE-FINE", True),
    ("....DOTS.ALSO.......", True),
    ("----SLASHES-ALSO----", True),
    ("___AND_UNDERSCORES____", True),
]

# apps/manifest_test.go, TestValidateAppVersion
VERSIONS = [
    ("", True),
    ("v1.0.0", True),
    ("1.0.0", True),
    ("v1.0.0-rc1", True),
    ("1.0.0-rc1", True),
    ("CAPS-OK", True),
    (".DOTS.", True),
    ("-SLASHES-", True),
    ("_OK_", True),
    ("v00_00_0000", False),
    ("/", False),
]

_MINIMAL = {"app_id": "abc", "display_name": "some display name", "homepage_url": "https://example.org"}
_HTTP = {"http": {"root_url": "https://example.org/root"}}
_LAMBDA_FUNCTION = {"path": "/", "name": "go-funcion", "handler": "hello-lambda", "runtime": "go1.x"}

# apps/manifest_test.go, TestValidateManifest (the Go structs written as the JSON they decode from)
MANIFESTS = [
    ("empty manifest", {}, True),
    ("no deploy type", dict(_MINIMAL), True),
    ("DisplayName empty", {"app_id": "abc", "homepage_url": "https://example.org", **_HTTP}, True),
    ("HomepageURL empty", {"app_id": "abc", "display_name": "some display name", **_HTTP}, True),
    ("HTTP RootURL empty", {**_MINIMAL, "http": {}}, True),
    ("minimal valid HTTP app example manifest", {**_MINIMAL, **_HTTP}, False),
    ("invalid Icon", {**_MINIMAL, **_HTTP, "icon": "../.."}, True),
    ("invalid HomepageURL", {**_MINIMAL, **_HTTP, "homepage_url": ":invalid"}, True),
    ("invalid HTTPRootURL", {**_MINIMAL, "homepage_url": "https://example.org/root", "http": {"root_url": ":invalid"}}, True),
    ("no lambda for AWS app", {**_MINIMAL, "aws_lambda": {}}, True),
    ("missing path for AWS app", {**_MINIMAL, "aws_lambda": {"functions": [{**_LAMBDA_FUNCTION, "path": ""}]}}, True),
    ("missing name for AWS app", {**_MINIMAL, "aws_lambda": {"functions": [{**_LAMBDA_FUNCTION, "name": ""}]}}, True),
    ("missing handler for AWS app", {**_MINIMAL, "aws_lambda": {"functions": [{**_LAMBDA_FUNCTION, "handler": ""}]}}, True),
    ("missing runtime for AWS app", {**_MINIMAL, "aws_lambda": {"functions": [{**_LAMBDA_FUNCTION, "runtime": ""}]}}, True),
    ("minimal valid AWS app example manifest", {**_MINIMAL, "aws_lambda": {"functions": [_LAMBDA_FUNCTION]}}, False),
]

# utils/path_test.go, TestCleanStaticURL: (path, cleaned or None, Go's error or None)
STATIC_URLS = [
    ("X/Y/Z", "X/Y/Z", None),
    ("https://test.t/X/Y/Z", "https://test.t/X/Y/Z", None),
    ("X/Y/../Z", "X/Z", None),
    ("http://test.t:8080/X/Y/../Z", "http://test.t:8080/X/Z", None),
    ("/X/Y/Z", "./X/Y/Z", None),
    ("////X///Y////Z///", "./X/Y/Z", None),
    ("https://test.t//X/Y/Z", "https://test.t/X/Y/Z", None),
    ("X/../../Y/Z", None, 'bad path: "X/../../Y/Z": invalid input'),
    ("X/Y/../../../Z", None, 'bad path: "X/Y/../../../Z": invalid input'),
    ("X%252F..%2F..%2525252FY", None, 'bad path: "X/../../Y": invalid input'),
    ("%2FX%2F..%2F..%2FY", "./Y", None),
    ("/X/../../Y", "./Y", None),
    ("https://test.t/X/../../Y", "https://test.t/Y", None),
    ("X%252f..%252f..%252fmanifest", None, 'bad path: "X/../../manifest": invalid input'),
]

# utils/httputils/url_test.go, TestIsValidHttpUrl: (name, URL, refused?)
URLS = [
    ("empty url", "", True),
    ("bad url", "bad url", True),
    ("relative url", "/api/test", True),
    ("relative url ending with slash", "/some/url/", True),
    ("url with invalid scheme", "htp://mattermost.com", True),
    ("url with just http", "http://", True),
    ("url with just https", "https://", True),
    ("url with extra slashes", "https:///mattermost.com", True),
    ("correct url with http scheme", "http://mattemost.com", False),
    ("correct url with https scheme", "https://mattermost.com/api/test", False),
    ("correct url with port", "https://localhost:1111/test", False),
    ("correct url without scheme", "mattermost.com/some/url/", True),
    ("correct url with extra slashes", "https://mattermost.com/some//url", False),
]


@pytest.mark.parametrize(("app_id", "valid"), APP_IDS)
def test_app_id(app_id: str, valid: bool) -> None:
    assert (validate_app_id(app_id) == []) is valid


@pytest.mark.parametrize(("version", "valid"), VERSIONS)
def test_app_version(version: str, valid: bool) -> None:
    assert (validate_version(version) == []) is valid


@pytest.mark.parametrize(("name", "manifest", "refused"), MANIFESTS, ids=[m[0] for m in MANIFESTS])
def test_manifest(name: str, manifest: dict[str, Any], refused: bool) -> None:
    assert bool(validate_manifest(manifest)) is refused


@pytest.mark.parametrize(("path", "cleaned", "error"), STATIC_URLS)
def test_clean_static_url(path: str, cleaned: str | None, error: str | None) -> None:
    if error is None:
        assert clean_static_url(path) == cleaned
    else:
        with pytest.raises(InvalidInput) as caught:
            clean_static_url(path)
        assert str(caught.value) == error


@pytest.mark.parametrize(("name", "url", "refused"), URLS, ids=[u[0] for u in URLS])
def test_is_valid_url(name: str, url: str, refused: bool) -> None:
    assert (url_problem(url) is not None) is refused


# -- Go's words for each rule (read from apps/manifest.go, apps/deploy*.go, apps/permissions.go, utils/path.go) --


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"app_id": "ab"}, "appID ab too short, should be 3 bytes: invalid input"),
        ({"app_id": "a" * 33}, f"appID {'a' * 33} too long, should be 32 bytes: invalid input"),
        ({"app_id": "é" * 17}, f"appID {'é' * 17} too long, should be 32 bytes: invalid input"),  # 34 bytes
        ({"app_id": "my/app"}, "invalid character '/' in appID \"my/app\": invalid input"),
        ({"version": "v00_00_0000"}, "version v00_00_0000 too long, should be in v00_00_000 format: invalid input"),
        (
            {"version": "vé0_00_000"},
            "version vé0_00_000 too long, should be in v00_00_000 format: invalid input",
        ),  # 10 chars, 11 bytes
        ({"version": "v1 0"}, "invalid character ' ' in appVersion: invalid input"),
        ({"display_name": ""}, "display_name is empty: invalid input"),
        (
            {"homepage_url": "ftp://example.com"},
            'homepage_url "ftp://example.com" invalid: URL schema must either be "http" or "https": invalid input',
        ),
        (
            {"homepage_url": "example.com/home"},
            'homepage_url "example.com/home" invalid: parse "example.com/home": invalid URI for request: invalid input',
        ),
        ({"icon": "../icon.png"}, 'bad path: "../icon.png": invalid input'),
        ({"icon": "%2e%2e/x.png"}, 'bad path: "../x.png": invalid input'),
        ({"http": None}, "manifest has no deployment information (http, aws_lambda, open_faas, etc.): invalid input"),
        ({"http": {"use_jwt": True}}, "root_url must be set for HTTP apps: invalid input"),
        (
            {"http": {"root_url": "localhost:8080"}},
            'invalid root_url: "localhost:8080": URL schema must either be "http" or "https": invalid input',
        ),
        (
            {"requested_permissions": ["remote_oauth2"]},
            "use a remote (3rd party) OAuth2 and store secrets requires use Mattermost REST API as connected users"
            ": invalid input",
        ),
        (
            {"requested_permissions": ["remote_webhooks"]},
            "receive webhook messages from a remote (3rd party) system requires use Mattermost REST API as the app's bot user"
            ": invalid input",
        ),
    ],
)
def test_each_broken_rule_gives_one_error(overrides: dict[str, Any], expected: str) -> None:
    assert validate_manifest(stub_manifest(ROOT, **overrides)) == [expected]


def test_an_empty_homepage_url_is_reported_twice_as_go_does() -> None:
    assert validate_manifest(stub_manifest(ROOT, homepage_url="")) == [
        "homepage_url is empty: invalid input",
        'homepage_url "" invalid: parse "": empty url: invalid input',
    ]


@pytest.mark.parametrize(
    "overrides",
    [
        {"app_id": "приложение"},  # unicode.IsLetter: non-ASCII letters pass
        {"version": "v00_00_000"},
        {"icon": None},
        {"icon": "/icon.png"},
        {"icon": ".."},  # `CleanPath` refuses only "." and "../...": ".." itself passes
        {"http": {"root_url": "https://host.example/prefix"}},
        {"requested_permissions": ["act_as_user", "remote_oauth2", "made_up_permission"]},
    ],
)
def test_accepted_edge_cases(overrides: dict[str, Any]) -> None:
    assert validate_manifest(stub_manifest(ROOT, **overrides)) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{", "unexpected end of JSON input"),
        (b"test", "invalid character 'e' in literal true (expecting 'r')"),
        (b"[]", "json: cannot unmarshal array into Go value of type apps.Manifest"),
        (b'{"app_id": 5}', "json: cannot unmarshal number into Go struct field Manifest.app_id of type apps.AppID"),
        (b'{"app_id": "x"}', None),
    ],
)
def test_decode_manifest_reports_go_texts(body: bytes, expected: str | None) -> None:
    with pytest.raises(ValueError) as caught:
        decode_manifest(body)
    if expected is None:  # decodes, then fails validation: the multierror list
        assert str(caught.value).startswith("5 errors occurred:\n\t* display_name is empty: invalid input\n\t")
    else:
        assert str(caught.value) == expected


@pytest.mark.parametrize(
    ("text", "quoted"),
    [("plain", '"plain"'), ('say "hi"', '"say \\"hi\\""'), ("tab\there", '"tab\\there"'), ("é", '"é"'), ("\x01", '"\\x01"')],
)
def test_go_quote(text: str, quoted: str) -> None:
    assert golang.quote(text) == quoted
