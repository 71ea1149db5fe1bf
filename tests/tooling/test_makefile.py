"""The Makefile's public interface: `make help` describes every target, and a too-old Python stops before any install."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = ROOT / "Makefile"
# A rule line: a plain name and a colon, not a variable (`NAME :=`) nor a file or special target (`$(VENV)/...`, `.PHONY`).
TARGET = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_-]*)\s*:(?!=)", re.MULTILINE)
DESCRIPTION = re.compile(r"^## ([A-Za-z0-9][A-Za-z0-9_-]*): (\S.*)$", re.MULTILINE)
PUBLIC = {"run", "test", "test-fast", "lint", "bench", "demo", "clean", "help", "lock"}
TOO_OLD = (
    "Python 3.11 or later is needed (requires-python >= 3.11 in pyproject.toml), but {python} is 3.10.13: "
    "install it, or name another interpreter, e.g. make run PYTHON=python3.12"
)


def make(*args: str, path_prefix: Path | None = None) -> subprocess.CompletedProcess[str]:
    # Not the outer make's flags nor the variables it exports (`make test PYTHON=...` runs this suite), so that each
    # run here is a fresh top-level make with the Makefile's defaults.
    outer = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "PYTHON", "VENV"}
    env = {k: v for k, v in os.environ.items() if k not in outer}
    if path_prefix is not None:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env['PATH']}"
    # Should a check let make through, gunicorn only checks its configuration instead of serving, and a timeout
    # ends everything make started, not only make.
    env["GUNICORN_CMD_ARGS"] = "--check-config"
    command = ["make", "--no-print-directory", *args]
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as make_:
        try:
            stdout, stderr = make_.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(make_.pid, signal.SIGKILL)
            raise
    return subprocess.CompletedProcess(command, make_.returncode, stdout, stderr)


def targets() -> set[str]:
    return set(TARGET.findall(MAKEFILE.read_text(encoding="utf-8")))


def fake_python(tmp_path: Path, version: str) -> Path:
    """A `python3` that answers every question with VERSION, as the version check asks it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = bin_dir / "python3"
    python.write_text(f"#!/bin/sh\necho {version}\n", encoding="utf-8")
    python.chmod(0o755)
    return bin_dir


def test_every_target_has_a_one_line_description_and_is_phony() -> None:
    text = MAKEFILE.read_text(encoding="utf-8")
    described = {name for name, _ in DESCRIPTION.findall(text)}
    assert targets() - described == set(), "put a '## name: what it does' line above each of these targets"
    assert described - targets() == set(), "these descriptions name no target"
    phony = set(re.search(r"^\.PHONY:(.*)$", text, re.MULTILINE).group(1).split())  # type: ignore[union-attr]
    assert phony == targets()
    assert targets() >= PUBLIC


def test_make_help_lists_every_target_and_is_what_make_alone_does() -> None:
    shown = make("help")
    assert shown.returncode == 0, shown.stderr
    for target in targets():
        assert re.search(rf"^  make {re.escape(target)} +\S", shown.stdout, re.MULTILINE), f"{target} missing from make help"
    assert len(shown.stdout.splitlines()) == len(targets())
    alone = make()
    assert (alone.returncode, alone.stdout) == (0, shown.stdout)


@pytest.mark.parametrize("target", ["run", "test", "test-fast", "lint"])
def test_python_older_than_requires_python_stops_before_the_venv(tmp_path: Path, target: str) -> None:
    venv = tmp_path / "venv"
    result = make(target, f"VENV={venv}", path_prefix=fake_python(tmp_path, "3.10.13"))
    assert result.returncode != 0
    said = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert said == [TOO_OLD.format(python="python3")]
    assert not venv.exists()


def test_python_can_be_named_and_is_checked_too(tmp_path: Path) -> None:
    old = fake_python(tmp_path, "3.10.13") / "python3"
    result = make("run", f"VENV={tmp_path / 'venv'}", f"PYTHON={old}")
    assert TOO_OLD.format(python=old) in result.stderr.splitlines()
    missing = make("run", f"VENV={tmp_path / 'venv'}", "PYTHON=python-that-does-not-exist")
    assert "and there is no python-that-does-not-exist" in missing.stderr
    assert not (tmp_path / "venv").exists()


@pytest.mark.parametrize("version", ["3.11.0", "3.12.1", "3.13.0", "4.0.0"])
def test_the_version_check_lets_recent_pythons_through(tmp_path: Path, version: str) -> None:
    # The fake answers the venv probe too, so only the version comparison decides here.
    python = fake_python(tmp_path, version) / "python3"
    result = subprocess.run(
        ["bash", "scripts/check-python.sh", str(python)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_the_running_interpreter_passes_the_check() -> None:
    result = subprocess.run(
        ["bash", "scripts/check-python.sh", sys.executable], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stderr) == (0, "")


def fake_node(tmp_path: Path, version: str) -> Path:
    """A `node` that reports VERSION, an `npm` that does nothing, and an `apt-get` that leaves a mark and fails."""
    bin_dir = tmp_path / "node-bin"
    bin_dir.mkdir()
    for name, script in {
        "node": f"#!/bin/sh\necho {version}\n",
        "npm": "#!/bin/sh\nexit 0\n",
        "apt-get": f"#!/bin/sh\ntouch {tmp_path / 'apt-get-ran'}\nexit 1\n",
    }.items():
        (bin_dir / name).write_text(script, encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    return bin_dir


def test_make_demo_checks_node_and_its_version_before_anything_slow(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    result = make("demo", f"VENV={venv}", path_prefix=fake_node(tmp_path, "18.19.0"))
    assert result.returncode != 0
    said = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert said == ["install-test-deps: Node.js 20 or later is required, but 'node' is 18.19.0: install Node.js 20 or 22 LTS"]
    assert not venv.exists() and not (tmp_path / "apt-get-ran").exists()


def test_the_demo_installs_neither_chromium_nor_redis(tmp_path: Path) -> None:
    # On a machine with Node and Python only: the demo's set-up never reaches for apt-get; the suite's does.
    env = {
        **os.environ,
        "PATH": f"{fake_node(tmp_path, '20.11.1')}{os.pathsep}{os.environ['PATH']}",
        "CHROMIUM": str(tmp_path / "no-chromium"),
        "REDIS_SERVER": "no-redis-server-here",
    }

    def install(*args: str) -> subprocess.CompletedProcess[str]:
        script = ["bash", "scripts/install-test-deps.sh", *args]
        return subprocess.run(script, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=60)

    demo = install("--demo")
    assert demo.returncode == 0, demo.stderr
    assert not (tmp_path / "apt-get-ran").exists()
    suite = install()
    assert suite.returncode != 0 and (tmp_path / "apt-get-ran").exists()


def test_make_run_on_a_taken_port_says_so_in_one_line_naming_port() -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))  # noqa: S104 - where `make run` listens
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        result = make("run", f"PORT={port}")
    assert result.returncode != 0
    said = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert len(said) == 1 and f"PORT {port} is already in use" in said[0], result.stderr
    assert time.monotonic() - started < 5  # not gunicorn's five seconds of retries


@pytest.mark.parametrize(("target", "lock"), [("run", "requirements.txt"), ("test-fast", "requirements.txt")])
def test_a_cold_venv_build_says_what_it_is_doing_before_the_silent_install(tmp_path: Path, target: str, lock: str) -> None:
    # pip runs --quiet for about a minute on a cold cache: one line first says what is being installed, and from what.
    venv = tmp_path / "venv"
    result = make(target, f"VENV={venv}", path_prefix=fake_python(tmp_path, "3.11.9"))  # its venv has no pip: it stops there
    announced = [line for line in result.stdout.splitlines() if line.startswith("make: creating")]
    assert announced and lock in announced[0] and str(venv) in announced[0], result.stdout
    assert result.stdout.index(announced[0]) < result.stdout.index("pip install")
