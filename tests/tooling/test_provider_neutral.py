"""The suite is provider-neutral: no test, fixture, stub or harness names the provider this template ships. They read
its display name and slash command from `provider.AppProvider` and the app id from manifest.json (tests/names.py), so an
App author who renames the app changes provider/google.py and manifest.json and no test. Only the Google provider's
own tests name it; the SDK's tests do not name the template's provider at all."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEARCHED = (REPO / "tests", REPO / "packages" / "mattermost-apps" / "tests")
SHIPPED_PROVIDER = re.compile("google", re.IGNORECASE)
# The tests of the provider itself (its endpoints, authorization parameters, Calendar API), and this file.
OWN_TESTS = {Path("tests/unit/test_google_provider.py"), Path(__file__).resolve().relative_to(REPO)}
# Names of the Calendar API's setting and client: they name the API they reach, which a test of the events command
# may name, not the provider.
API_NAMES = re.compile(r"\b(GOOGLE_API_URL|google_api_url|GoogleCalendar)\b")
NOT_SOURCE = {"node_modules", "__pycache__", ".pytest_cache", ".hypothesis"}


def searched_files() -> Iterator[Path]:
    for root in SEARCHED:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not NOT_SOURCE & set(path.relative_to(REPO).parts):
                yield path


def mentions(path: Path, root: Path = REPO) -> list[str]:
    """`path:line: text` (the path relative to `root`) for each line of a text file that names the shipped provider."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:  # a binary file (a screenshot, an icon): no sentence in it
        return []
    where = path.relative_to(root)
    return [
        f"{where}:{number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), start=1)
        if SHIPPED_PROVIDER.search(API_NAMES.sub("", line))
    ]


def test_no_test_outside_the_providers_own_names_it():
    found = [m for path in searched_files() if path.relative_to(REPO) not in OWN_TESTS for m in mentions(path)]
    assert not found, (
        "These lines name the shipped provider, so renaming the app or switching provider would break them. Build the "
        "text from tests/names.py (PROVIDER, CMD, APP_ID, BOT_USERNAME) or say 'the provider'; a test of the Google "
        "provider itself belongs in tests/unit/test_google_provider.py.\n" + "\n".join(found)
    )


def test_the_check_sees_a_mention_and_lets_the_calendar_api_names_pass(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('url = settings.google_api_url or GOOGLE_API_URL\nx = "/Google connect"\n', encoding="utf-8")
    assert mentions(probe, root=tmp_path) == ['probe.py:2: x = "/Google connect"']
