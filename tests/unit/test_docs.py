"""SECURITY.md names, for each guarantee, the test that shows it: every test it names exists, so a renamed or
deleted test cannot leave a promise standing on nothing."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def resolve(name: str) -> Path:
    """SECURITY.md's convention: tests/security/ unless a path is given; `e2e/` is tests/e2e/."""
    if name.startswith(("tests/", "packages/")):
        return ROOT / name
    if name.startswith("e2e/"):
        return ROOT / "tests" / name
    return ROOT / "tests" / "security" / name


def cited_tests() -> list[tuple[Path, str]]:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    cited: list[tuple[Path, str]] = []
    current: Path | None = None
    for file, test in re.findall(r"`((?:[\w./-]+/)?[\w]+\.py)?(?:::(\w+))?`", text):
        if file:
            current = resolve(file)
            assert current.exists(), f"SECURITY.md names {file}, which does not exist"
        if test:
            assert current is not None, f"SECURITY.md names ::{test} before any file"
            cited.append((current, test))
    return cited


def test_every_test_security_md_names_exists():
    cited = cited_tests()
    assert len(cited) > 40
    for path, test in cited:
        assert re.search(rf"^def {test}\(", path.read_text(encoding="utf-8"), re.M), f"{path.name}::{test} is not a test"
