"""scripts/check_lock.py, which `make lint` runs: the lock must follow pyproject.toml, or the check fails."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = ("pyproject.toml", "requirements.txt", "requirements-test.txt", "requirements-dev.txt")
SDK_PYPROJECT = Path("packages") / "mattermost-apps" / "pyproject.toml"


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_lock.py"), "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / SDK_PYPROJECT).parent.mkdir(parents=True)
    shutil.copy(ROOT / SDK_PYPROJECT, tmp_path / SDK_PYPROJECT)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_committed_lock_follows_pyproject() -> None:
    result = check(ROOT)
    assert result.returncode == 0, result.stderr


def test_a_dependency_added_without_make_lock_fails(project: Path) -> None:
    edit(project / "pyproject.toml", "dependencies = [\n", 'dependencies = [\n    "tomli-w>=1.2.0",\n')
    result = check(project)
    assert result.returncode == 1
    assert "tomli-w is declared in pyproject.toml [project].dependencies but not locked in requirements.txt" in result.stderr
    assert "run `make lock`" in result.stderr


def test_a_dev_dependency_added_without_make_lock_fails(project: Path) -> None:
    edit(project / "pyproject.toml", "dev = [\n", 'dev = [\n    "deptry>=0.23",\n')
    result = check(project)
    assert "deptry is declared in pyproject.toml [dependency-groups].dev but not locked in requirements-dev.txt" in result.stderr


def test_a_test_dependency_reaches_both_the_test_and_the_dev_lock(project: Path) -> None:
    edit(project / "pyproject.toml", "test = [\n", 'test = [\n    "pytest-timeout>=2.3",\n')
    result = check(project)
    assert "pytest-timeout is declared in pyproject.toml [dependency-groups].test but not locked in requirements-test.txt" in (
        result.stderr
    )
    assert "pytest-timeout is declared in pyproject.toml [dependency-groups].dev but not locked in requirements-dev.txt" in (
        result.stderr
    )


def test_an_sdk_dependency_added_without_make_lock_fails(project: Path) -> None:
    edit(project / SDK_PYPROJECT, "dependencies = [\n", 'dependencies = [\n    "tomli-w>=1.2.0",\n')
    result = check(project)
    assert f"tomli-w is declared in pyproject.toml [project].dependencies of the SDK ({SDK_PYPROJECT.parent}) but not locked" in (
        result.stderr
    )


def test_the_test_lock_carries_no_browser_tooling() -> None:
    lock = (ROOT / "requirements-test.txt").read_text(encoding="utf-8")
    assert "\nplaywright==" not in lock and "\npytest==" in lock


def test_a_pin_the_declaration_no_longer_allows_fails(project: Path) -> None:
    edit(project / "pyproject.toml", '"Flask>=3.1.3"', '"Flask>=4"')
    result = check(project)
    assert result.returncode == 1
    assert (
        "requirements.txt pins flask==3.1.3, which pyproject.toml [project].dependencies does not allow (Flask>=4)"
        in result.stderr
    )


def test_a_pin_without_hashes_fails(project: Path) -> None:
    lock = project / "requirements.txt"
    lock.write_text(
        re.sub(r"(?m)^(flask==[^ ]+)( \\\n    --hash=[^\n]+)+", r"\1", lock.read_text(encoding="utf-8")), encoding="utf-8"
    )
    result = check(project)
    assert "requirements.txt: flask has no --hash" in result.stderr


def test_runtime_and_dev_locks_must_agree(project: Path) -> None:
    edit(project / "requirements-dev.txt", "flask==3.1.3", "flask==3.1.2")
    result = check(project)
    assert "flask is 3.1.3 in requirements.txt but 3.1.2 in requirements-dev.txt" in result.stderr
