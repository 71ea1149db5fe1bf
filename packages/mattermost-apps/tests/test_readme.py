"""The SDK's README is code that runs: its App and its test, exactly as printed, pass against the emulator."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mattermost_apps.testing import Mattermost

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_the_readme_has_an_app_and_its_test() -> None:
    app_code, test_code = BLOCKS
    assert "router.install(app" in app_code and "def test_greet(mattermost)" in test_code
    code_lines = [line for line in app_code.splitlines() if line.strip()]
    assert len(code_lines) <= 22 and len([line for line in test_code.splitlines() if line.strip()]) <= 10


def test_the_readmes_test_passes_on_the_readmes_app(mattermost: Mattermost) -> None:
    namespace: dict[str, Any] = {"__name__": "readme_app"}
    exec(compile(BLOCKS[0], "README.md (the App)", "exec"), namespace)  # noqa: S102 - the README's own code
    exec(compile(BLOCKS[1], "README.md (the test)", "exec"), namespace)  # noqa: S102
    namespace["test_greet"](mattermost)
