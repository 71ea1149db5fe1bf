"""Under gunicorn (the production server): the 64 KiB body limit holds for chunked bodies too,
which carry no Content-Length (tests/security/test_bad_input.py has the same under werkzeug)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from mattermost_apps.testing import sign_jwt

from .harness import Stack

pytestmark = pytest.mark.e2e

LIMIT = 64 * 1024


def body_of(size: int) -> bytes:
    body: dict[str, Any] = {"path": "/commands/help", "values": {"pad": ""}, "context": {"app_id": "", "oauth2": {}}}
    body["values"]["pad"] = "x" * (size - len(json.dumps(body)))
    return json.dumps(body).encode()


def chunks(data: bytes) -> Iterator[bytes]:
    for i in range(0, len(data), 8192):
        yield data[i : i + 8192]


@pytest.mark.parametrize(
    ("size", "chunked", "refused"),
    [
        (LIMIT, False, False),
        (LIMIT + 1, False, True),
        (LIMIT, True, False),
        (LIMIT + 1, True, True),
        (4 * LIMIT, True, True),
    ],
    ids=["at-limit", "over-limit", "chunked-at-limit", "chunked-over-limit", "chunked-far-over"],
)
def test_the_body_limit_under_gunicorn(stack: Stack, size: int, chunked: bool, refused: bool) -> None:
    data = body_of(size)
    assert len(data) == size
    headers = {"Content-Type": "application/json", "Mattermost-App-Authorization": "Bearer " + sign_jwt(stack.app_secret)}
    response = requests.post(
        stack.app_url + "/commands/help", data=chunks(data) if chunked else data, headers=headers, timeout=10
    )
    assert ("Transfer-Encoding" in response.request.headers) == chunked
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    answer = response.json()
    if refused:
        assert answer == {"type": "error", "text": "The request body is larger than 64 KiB."}
    else:
        assert answer["type"] == "ok", answer
