"""pytest fixtures of the testing kit, loaded by pytest wherever `mattermost-apps` is installed (entry point
`pytest11`), or with `pytest_plugins = ["mattermost_apps.testing.pytest_plugin"]`.

- `mattermost`: a fresh emulated Mattermost with the Apps plugin, served on loopback for the test, then stopped.
  Install your app into it with `mattermost.install(app, secret=...)`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .kit import Mattermost


@pytest.fixture
def mattermost() -> Iterator[Mattermost]:
    """An emulated Mattermost with the Apps plugin v1.2.2 (users `sysadmin`, `alice`, `bob`), for one test."""
    with Mattermost() as server:
        yield server
