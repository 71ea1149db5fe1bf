"""`make lint`: the lock files still match pyproject.toml, without asking any index.

requirements.txt must pin every `[project].dependencies` entry, and requirements-dev.txt every entry of the `dev`
dependency group, each at a version the declared specifier allows, with hashes; requirements-dev.txt must hold the
runtime pins unchanged. A dependency added to pyproject.toml without `make lock` fails here.

    python scripts/check_lock.py [--root DIR]
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

RUNTIME_LOCK = "requirements.txt"
DEV_LOCK = "requirements-dev.txt"
HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: frozenset[str]


def read_lock(path: Path) -> tuple[dict[str, Pin], list[str]]:
    """The pins of a hashed requirements file, and what is wrong with it."""
    pins: dict[str, Pin] = {}
    problems: list[str] = []
    # Join continuation lines, then drop comments: one requirement per logical line.
    logical = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    for raw in logical.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            problems.append(f"{path.name}: an option line has no place in the lock: {line}")
            continue
        spec = HASH.sub("", line).strip()
        try:
            requirement = Requirement(spec)
        except InvalidRequirement as error:
            problems.append(f"{path.name}: cannot read {spec!r}: {error}")
            continue
        pinned = [s for s in requirement.specifier if s.operator == "=="]
        name = canonicalize_name(requirement.name)
        if len(pinned) != 1 or len(requirement.specifier) != 1:
            problems.append(f"{path.name}: {requirement.name} is not pinned with == ({spec})")
            continue
        hashes = frozenset(HASH.findall(line))
        if not hashes:
            problems.append(f"{path.name}: {requirement.name} has no --hash")
        pins[name] = Pin(requirement.name, pinned[0].version, hashes)
    return pins, problems


def check_declared(declared: Iterable[object], where: str, lock: dict[str, Pin], lock_name: str) -> list[str]:
    problems = []
    for entry in declared:
        if not isinstance(entry, str):
            problems.append(f"pyproject.toml {where}: {entry!r} is not a requirement string (not supported here)")
            continue
        requirement = Requirement(entry)
        pin = lock.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement.name} is declared in pyproject.toml {where} but not locked in {lock_name}")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{lock_name} pins {pin.name}=={pin.version}, which pyproject.toml {where} does not allow ({entry})")
    return problems


def check(root: Path) -> list[str]:
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    runtime, problems = read_lock(root / RUNTIME_LOCK)
    dev, dev_problems = read_lock(root / DEV_LOCK)
    problems += dev_problems
    problems += check_declared(pyproject["project"].get("dependencies", []), "[project].dependencies", runtime, RUNTIME_LOCK)
    dev_group = pyproject.get("dependency-groups", {}).get("dev", [])
    problems += check_declared(dev_group, "[dependency-groups].dev", dev, DEV_LOCK)
    for name, pin in runtime.items():
        other = dev.get(name)
        if other is None:
            problems.append(f"{DEV_LOCK} lacks {pin.name}, which {RUNTIME_LOCK} pins: the venv of make test would miss it")
        elif (other.version, other.hashes) != (pin.version, pin.hashes):
            problems.append(f"{pin.name} is {pin.version} in {RUNTIME_LOCK} but {other.version} in {DEV_LOCK} (or other hashes)")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    root = parser.parse_args().root
    problems = check(root)
    for problem in problems:
        print(f"check_lock: {problem}", file=sys.stderr)
    if problems:
        print("check_lock: run `make lock` after changing pyproject.toml (see the README's Dependencies)", file=sys.stderr)
        return 1
    print(f"check_lock: {RUNTIME_LOCK} and {DEV_LOCK} lock every dependency pyproject.toml declares")
    return 0


if __name__ == "__main__":
    sys.exit(main())
