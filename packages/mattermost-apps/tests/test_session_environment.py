"""The app's HTTP session reads the environment once, when it is made: a later change to the process's proxy
variables cannot send a token through another proxy, and `.netrc` never adds credentials to a request."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import requests
from urllib3 import HTTPResponse

from mattermost_apps import new_session


def test_the_proxies_named_at_start_are_the_ones_used_whatever_the_environment_says_later(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    session = new_session(user_agent="test-app")
    monkeypatch.setenv("HTTPS_PROXY", "http://elsewhere.example:8080")
    monkeypatch.setenv("NO_PROXY", "api.example")
    sent: list[tuple[str, Any]] = []

    def request(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        sent.append((url, kwargs["proxies"]))
        response = requests.Response()
        response.status_code = 200
        response.raw = HTTPResponse(body=io.BytesIO(b"{}"), status=200, preload_content=False)
        return response

    monkeypatch.setattr(requests.Session, "request", request)
    for _ in range(2):
        session.get("https://api.example/v1", timeout=1)
        session.get("https://internal.example/v1", timeout=1)

    assert sent == 2 * [("https://api.example/v1", {"https": "http://proxy.example:3128"}), ("https://internal.example/v1", {})]


@pytest.mark.parametrize("url", ["https://api.example/v1", "http://api.example/v1"])
def test_netrc_credentials_are_never_sent(monkeypatch, tmp_path: Path, requests_mock, url):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.example login someone password hunter2\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    requests_mock.get(url, json={})

    new_session(user_agent="test-app").get(url, timeout=1)

    assert requests.get(url, timeout=1).request.headers.get("Authorization", "").startswith("Basic ")  # netrc is read
    assert "Authorization" not in requests_mock.request_history[0].headers
