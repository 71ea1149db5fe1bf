"""The SDK is a distribution of its own: it installs alone from its folder into an empty venv, its run-time part
imports nothing of its testing kit, and it names every dependency it imports."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1]
PACKAGE = HERE / "mattermost_apps"
RUNTIME_MODULES = sorted(p for p in PACKAGE.glob("*.py"))
# The import names of the distributions the SDK declares.
DECLARED_IMPORTS = {
    "flask": "Flask",
    "gevent": "gevent",
    "jwt": "PyJWT",
    "requests": "requests",
    "urllib3": "urllib3",
    "werkzeug": "Werkzeug",
}


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            prefix = "." * node.level
            found.add(prefix + (node.module or ""))
    return found


def test_the_run_time_part_imports_nothing_of_the_testing_kit() -> None:
    for path in RUNTIME_MODULES:
        for module in imported_modules(path):
            assert "testing" not in module.split("."), f"{path.name} imports {module}"


def test_every_third_party_import_is_a_declared_dependency() -> None:
    project = tomllib.loads((HERE / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for extra in project.get("optional-dependencies", {}).values() for r in extra]
    declared = {name.split(">")[0].split("=")[0].strip().lower() for name in requirements}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "pytest_plugin" in path.name:
            continue  # loaded by pytest, which is there whenever it is
        for module in imported_modules(path):
            top = module.split(".")[0]
            if not top or top in sys.stdlib_module_names or top == "mattermost_apps":
                continue
            assert top in DECLARED_IMPORTS, f"{path.relative_to(HERE)} imports {module}, which no declared dependency provides"
            assert DECLARED_IMPORTS[top].lower() in declared, f"{DECLARED_IMPORTS[top]} is not in the SDK's dependencies"


@pytest.mark.e2e
def test_it_installs_alone_into_an_empty_venv(tmp_path: Path) -> None:
    """`pip install packages/mattermost-apps` with nothing else: the SDK, its testing kit and its pytest plugin."""
    # From a copy: pip builds in the folder it is given, and the build must leave no trace in the repository.
    source = tmp_path / "mattermost-apps"
    shutil.copytree(HERE, source, ignore=shutil.ignore_patterns("node_modules", "build", "*.egg-info", "__pycache__"))
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    check = (
        "import sys, mattermost_apps; "
        "assert not [m for m in sys.modules if m.startswith('mattermost_apps.testing')], 'the run time loads the kit'; "
        "import mattermost_apps.testing, mattermost_apps.testing.emulator; "
        "from mattermost_apps.testing import Mattermost, FakePlugin; "
        "import importlib.metadata as m; "
        "print(sorted(e.value for e in m.entry_points(group='pytest11') if e.name == 'mattermost_apps'))"
    )
    done = subprocess.run([python, "-c", check], capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "['mattermost_apps.testing.pytest_plugin']"
    assert list((tmp_path / "venv" / "lib").glob("python3*/site-packages/mattermost_apps/py.typed")), "no py.typed"
