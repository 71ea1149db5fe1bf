"""Session fixtures that start real processes on free loopback ports: the OAuth2 server (oidc-provider), the
emulated Mattermost, the Calendar stub and the app under gunicorn. A missing node or Chromium fails the run
with what to install; nothing is skipped. A failing test gets the tail of every process's output."""

from __future__ import annotations

import importlib.util
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from .harness import (
    DEFAULT_ACCESS_TOKEN_TTL,
    RUNNING,
    Stack,
    StackError,
    UserAgent,
    free_port,
    require_node,
    start_stack,
)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The browser tests need Playwright, which only `make test`'s venv has (`make test-fast`'s has no browser tooling):
    they are left out of a run that deselects the e2e tests, and fail the run loudly anywhere else."""
    if collection_path.name != "test_browser.py" or importlib.util.find_spec("playwright") is not None:
        return None
    if "not e2e" in (config.getoption("markexpr") or ""):
        return True
    raise pytest.UsageError("Playwright is not installed: the browser tests run in `make test`'s venv (requirements-dev.txt)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and RUNNING:
        for process in RUNNING:
            status = "running" if process.popen.poll() is None else f"exited {process.popen.returncode}"
            report.sections.append((f"{process.name} output ({status}, {process.url})", process.output()))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    try:
        require_node()
        stack = start_stack(
            log_dir=tmp_path_factory.mktemp("e2e-logs"),
            app_secret=secrets.token_urlsafe(32),
            encryption_key=Fernet.generate_key().decode(),
            emulator_port=free_port(),
            provider_port=free_port(),
            calendar_port=free_port(),
            app_port=free_port(),
        )
    except StackError as exc:
        pytest.fail(str(exc), pytrace=False)
    RUNNING.extend(stack.processes.values())
    yield stack
    stack.stop()


@pytest.fixture
def mattermost(stack: Stack) -> Stack:
    """The stack with a freshly reset emulator, the app installed (not configured), empty logs, default token TTL."""
    stack.emulator.reset()
    stack.install()
    stack.provider.set_access_token_ttl(DEFAULT_ACCESS_TOKEN_TTL)
    stack.provider.clear_log()
    stack.emulator.clear_log()
    return stack


@pytest.fixture
def configured(mattermost: Stack) -> Stack:
    answer = mattermost.configure()
    assert answer["type"] == "ok", answer
    mattermost.emulator.clear_log()
    return mattermost


@pytest.fixture
def alice(configured: Stack) -> UserAgent:
    return UserAgent(configured.emulator.url, "alice")
