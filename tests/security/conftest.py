"""Fixtures for the security tests: a loopback Mattermost stub, and http:// providers allowed for oauthlib."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ADMIN, ADMIN_TOKEN, ALICE, ALICE_TOKEN, BOT, BOT_TOKEN

from .support import FakeMattermost


@pytest.fixture
def insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """create_app sets OAUTHLIB_INSECURE_TRANSPORT for http:// providers; monkeypatch undoes it afterwards."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def mattermost() -> Iterator[FakeMattermost]:
    with FakeMattermost({ALICE_TOKEN: ALICE.id, ADMIN_TOKEN: ADMIN.id, BOT_TOKEN: BOT.id}) as stub:
        yield stub
