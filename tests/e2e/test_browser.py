"""A person in a real browser (Debian's Chromium driven by Playwright): signs in to the emulated Mattermost,
runs `/google connect`, clicks the link, signs in and consents at the provider, lands on the plugin's success
page and finds the bot's direct message. Each step leaves a screenshot in artifacts/screenshots/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from handlers.messages import text
from provider import AppProvider

from .harness import REPO_ROOT, Stack, StackError, require_chromium

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
README_IMAGE = REPO_ROOT / "docs" / "images" / "browser-flow.png"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1000, "height": 640}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    try:
        chromium = require_chromium()
    except StackError as exc:
        pytest.fail(str(exc), pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def shot(page: Page, name: str) -> Path:
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def sign_in_and_run(page: Page, stack: Stack, username: str, command: str) -> None:
    page.goto(f"{stack.emulator.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "any password")
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{stack.emulator.url}/")
    run(page, command)


def run(page: Page, command: str) -> None:
    page.fill("input[name=command]", command)
    page.click("button:has-text('Send')")


def sign_in_at_provider(page: Page, login: str) -> None:
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")


def test_person_connects_and_gets_the_direct_message(configured: Stack, page: Page) -> None:
    sign_in_and_run(page, configured, "alice", "/google connect")
    link = page.locator("#response a", has_text="Connect your Google account")
    expect(link).to_be_visible()
    shot(page, "01-connect-link")

    link.click()
    sign_in_at_provider(page, "alice")
    shot(page, "02-provider-sign-in")
    page.click("button[type=submit]")
    expect(page.locator("button:has-text('Continue')")).to_be_visible()
    shot(page, "03-provider-consent")
    page.click("button:has-text('Continue')")

    page.wait_for_url("**/oauth2/remote/complete?**")
    expect(page.locator("body")).to_contain_text("Completed connecting your account. Please close this window.")
    shot(page, "04-plugin-success-page")

    page.goto(f"{configured.emulator.url}/")
    expect(page.locator("#messages")).to_contain_text("Your Google account alice@example.test is now connected.")
    run(page, "/google events")
    expect(page.locator("#response")).to_contain_text("Design review")
    shot(page, "05-direct-message-and-events")
    # The committed README image changes only on request, so a test run leaves the working tree clean.
    if not README_IMAGE.exists() or os.environ.get("UPDATE_SCREENSHOTS") == "1":
        README_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        box = page.locator("body").bounding_box()
        assert box is not None
        page.screenshot(
            path=str(README_IMAGE),
            clip={"x": box["x"] - 16, "y": 0, "width": box["width"] + 32, "height": box["y"] + box["height"] + 16},
        )
    assert configured.stored_record("alice") is not None


def test_person_cancels_at_the_provider_and_sees_why(configured: Stack, page: Page) -> None:
    sign_in_and_run(page, configured, "bob", "/google connect")
    page.click("#response a")
    sign_in_at_provider(page, "bob")
    page.click("button[type=submit]")

    page.click("text=[ Cancel ]")

    page.wait_for_url("**/oauth2/remote/complete?**error=access_denied**")
    expect(page.locator("body")).to_contain_text("You did not allow access at Google, so your Google account was not connected.")
    shot(page, "06-cancelled-at-provider")
    assert configured.emulator.stored_oauth2_user("bob") is None


def test_an_unconnected_users_events_get_the_apps_own_sentence_in_plain_text(configured: Stack, page: Page) -> None:
    # The most likely first mistake: a command before connecting. The web client's parser would answer a sub-command
    # not bound for the user with its own jargon; the app's sentence must arrive instead, shown as a plain label (the
    # web client renders an error as text, not markdown), so it must read right with no markdown in it.
    sign_in_and_run(page, configured, "bob", f"/{AppProvider.command} events")
    error = page.locator(".error")
    expect(error).to_have_text(text("not_connected"))
    assert error.locator("code, strong, em, a").count() == 0
    assert "`" not in error.inner_text() and "Parsing error" not in error.inner_text()
    shot(page, "07-events-before-connecting")
