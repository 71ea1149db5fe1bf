"""`make lint`: the lock files still match pyproject.toml, without asking any index.

requirements.txt must pin every `[project].dependencies` entry of pyproject.toml and of the SDK's
(packages/mattermost-apps/pyproject.toml) and the `build` group; requirements-test.txt the `test` group and
requirements-dev.txt the `dev` group (with the groups it includes); each at a version the declared specifier allows,
with hashes. Both must hold the runtime pins unchanged. A dependency added without `make lock` fails here.

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
GROUP_LOCKS = {"test": "requirements-test.txt", "dev": "requirements-dev.txt"}
SDK_PYPROJECT = Path("packages") / "mattermost-apps" / "pyproject.toml"
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


def group(groups: dict[str, list[object]], name: str) -> list[object]:
    """A dependency group with the groups it includes (`{include-group = "..."}`, PEP 735) spelled out."""
    entries: list[object] = []
    for entry in groups.get(name, []):
        if isinstance(entry, dict) and isinstance(entry.get("include-group"), str):
            entries += group(groups, entry["include-group"])
        else:
            entries.append(entry)
    return entries


def check(root: Path) -> list[str]:
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    sdk = tomllib.loads((root / SDK_PYPROJECT).read_text(encoding="utf-8"))
    groups = pyproject.get("dependency-groups", {})
    runtime, problems = read_lock(root / RUNTIME_LOCK)
    problems += check_declared(pyproject["project"].get("dependencies", []), "[project].dependencies", runtime, RUNTIME_LOCK)
    problems += check_declared(
        sdk["project"].get("dependencies", []),
        f"[project].dependencies of the SDK ({SDK_PYPROJECT.parent})",
        runtime,
        RUNTIME_LOCK,
    )
    problems += check_declared(group(groups, "build"), "[dependency-groups].build", runtime, RUNTIME_LOCK)
    for name, lock_name in GROUP_LOCKS.items():
        lock, lock_problems = read_lock(root / lock_name)
        problems += lock_problems
        problems += check_declared(group(groups, name), f"[dependency-groups].{name}", lock, lock_name)
        for package, pin in runtime.items():
            other = lock.get(package)
            if other is None:
                problems.append(f"{lock_name} lacks {pin.name}, which {RUNTIME_LOCK} pins: its venv would miss it")
            elif (other.version, other.hashes) != (pin.version, pin.hashes):
                problems.append(
                    f"{pin.name} is {pin.version} in {RUNTIME_LOCK} but {other.version} in {lock_name} (or other hashes)"
                )
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
    print(f"check_lock: {RUNTIME_LOCK}, {', '.join(GROUP_LOCKS.values())} lock every dependency pyproject.toml declares")
    return 0


if __name__ == "__main__":
    sys.exit(main())
