"""docs/adapting.md runs as written. Each python block on the page names the file it belongs to on its first line
(`# provider/github.py`): a new module is the whole file, `commands.py` gets the imports and the table entries, and
`provider/__init__.py` the line that picks the provider. The tests apply the blocks to a copy of this repository as an
App author would, type-check the result with mypy and run it: the new command's own test, and the GitHub switch end
to end (tests/unit/adapted_github_flow.py). The provider classes are also run here, straight from the page."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from provider import AppProvider, Identity, OAuth2Provider, TokenGrant

ROOT = Path(__file__).resolve().parents[2]
PAGE_PATH = ROOT / "docs" / "adapting.md"
PAGE = PAGE_PATH.read_text(encoding="utf-8")
SDK = ROOT / "packages" / "mattermost-apps"
# What a copy leaves out: the venv, npm packages, caches and outputs (none of it is the template's source).
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "node_modules", "*_cache", ".hypothesis", "artifacts", "__pycache__")
COMMAND, WITH_A_FORM, PROVIDER = "Adding a command", "Adding a command with a form", "Switching provider"
PICKS_THE_PROVIDER = re.compile(r"^from \.\w+ import \w+ as AppProvider$", re.M)


@dataclass(frozen=True)
class Block:
    section: str  # the heading (`## ...`) it is under
    path: str  # the file it belongs to, from its first line
    source: str  # the rest


def blocks() -> list[Block]:
    found = []
    for match in re.finditer(r"^ *```python\n(.*?)^ *```", PAGE, re.S | re.M):
        (section,) = re.findall(r"^## (.+)$", PAGE[: match.start()], re.M)[-1:]
        lines = match[1].splitlines()
        indent = len(lines[0]) - len(lines[0].lstrip())
        lines = [line[indent:] for line in lines]
        header = re.fullmatch(r"# ([\w/]+\.py)", lines[0])
        assert header, f"a python block in docs/adapting.md does not name its file on its first line: {lines[0]!r}"
        found.append(Block(section, header[1], "\n".join(lines[1:]).strip("\n") + "\n"))
    return found


def block(path: str, section: str = "") -> Block:
    """The block for `path` (under the heading `section`, when two sections change the same file)."""
    (found,) = [b for b in blocks() if b.path == path and section in ("", b.section)]
    return found


def apply(root: Path, blk: Block) -> None:
    """Make the change the block shows in the copy at `root`."""
    target = root / blk.path
    if blk.path == "commands.py":
        imports = [line for line in blk.source.splitlines() if line.startswith(("from ", "import "))]
        # The entries: what the block's COMMANDS holds after the `...` that stands for the entries already there.
        table = blk.source[blk.source.index("COMMANDS: tuple[Command, ...] = (\n") :].splitlines()[1:-1]
        entries = [line[4:] for line in table if line.strip() and not line.strip().startswith("...,")]
        assert imports and entries and entries[0].startswith("Command("), "the commands.py block shows no import or no entry"
        source = target.read_text(encoding="utf-8")
        last_import = max(m.end() for m in re.finditer(r"^from handlers\.[\w.]+ import .*$", source, re.M))
        source = source[:last_import] + "".join("\n" + line for line in imports) + source[last_import:]
        table_end = source.rindex("\n)\n")  # the end of COMMANDS, the module's last statement
        source = source[:table_end] + "".join("\n    " + line for line in entries) + source[table_end:]
        target.write_text(source, encoding="utf-8")
    elif blk.path == "provider/__init__.py":
        (line,) = blk.source.splitlines()
        source, replaced = PICKS_THE_PROVIDER.subn(line, target.read_text(encoding="utf-8"))
        assert replaced == 1, "provider/__init__.py has no one line that picks the provider"
        target.write_text(source, encoding="utf-8")
    else:
        assert not target.exists(), f"{blk.path} is a new file on the page, but the repository has one"
        target.write_text(blk.source, encoding="utf-8")


def adapted_copy(root: Path, paths: list[str], section: str = "") -> Path:
    shutil.copytree(ROOT, root, ignore=NOT_COPIED)
    for path in paths:
        apply(root, block(path, section))
    return root


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, env={**os.environ, **env}, check=False)


def mypy(root: Path, files: list[str], cache: Path) -> None:
    result = run(
        [sys.executable, "-m", "mypy", "--config-file", "pyproject.toml", "--cache-dir", str(cache), *files],
        root,
        MYPYPATH=str(root / SDK.relative_to(ROOT)),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def pytest_in(root: Path, files: list[str]) -> None:
    """Run `files`' tests in the copy at `root`: all pass, and none is missing (each `def test_` passed)."""
    result = run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", *files], root)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    for file in files:
        for name in re.findall(r"^def (test_\w+)\(", (root / file).read_text(encoding="utf-8"), re.M):
            assert re.search(rf"^PASSED {re.escape(file)}::{name}\b", result.stdout, re.M), (file, name, result.stdout)


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache of its own, started from `make lint`'s when there is one (the libraries are checked already)."""
    cache = tmp_path_factory.mktemp("mypy") / "cache"
    if (ROOT / ".mypy_cache").is_dir():
        shutil.copytree(ROOT / ".mypy_cache", cache)
    return cache


def test_every_python_block_is_checked():
    checked = [(COMMAND, path) for path in ("commands.py", "handlers/calendars.py", "tests/unit/test_calendars.py")]
    checked += [(WITH_A_FORM, path) for path in ("commands.py", "handlers/calendar_id.py", "tests/unit/test_calendar_id.py")]
    checked += [(PROVIDER, path) for path in ("provider/github.py", "provider/__init__.py", "provider/entra.py")]
    assert sorted((b.section, b.path) for b in blocks()) == sorted(checked), "a block the tests below do not apply"


def test_adding_a_command_is_three_files_that_type_check_and_pass_their_test(tmp_path, mypy_cache):
    changed = ["commands.py", "handlers/calendars.py", "tests/unit/test_calendars.py"]
    root = adapted_copy(tmp_path / "repo", changed, COMMAND)
    mypy(root, changed, mypy_cache)
    # The new command's own test, and the table-driven tests that pick the new command up with no edit.
    pytest_in(root, ["tests/unit/test_calendars.py", "tests/unit/test_command_table.py"])


def test_adding_a_command_with_a_form_is_three_files_that_type_check_and_pass_their_test(tmp_path, mypy_cache):
    changed = ["commands.py", "handlers/calendar_id.py", "tests/unit/test_calendar_id.py"]
    root = adapted_copy(tmp_path / "repo", changed, WITH_A_FORM)
    mypy(root, changed, mypy_cache)
    # Its own test, and the table-driven tests that read every command's form, lookups included, with no edit.
    pytest_in(root, ["tests/unit/test_calendar_id.py", "tests/unit/test_bindings.py", "tests/unit/test_robustness.py"])


def test_switching_to_github_type_checks_and_runs_connect_complete_info_disconnect(tmp_path, mypy_cache):
    changed = ["provider/github.py", "provider/__init__.py", "provider/entra.py"]
    root = adapted_copy(tmp_path / "repo", changed)
    mypy(root, [*changed, "tests/unit/adapted_github_flow.py"], mypy_cache)
    pytest_in(root, ["tests/unit/adapted_github_flow.py"])


# -- the provider classes, straight from the page ----------------------------------------------------------------


def documented(path: str, class_name: str) -> type[OAuth2Provider]:
    """The class the page's block for `path` (a module of `provider/`) defines, run as that module."""
    namespace: dict[str, Any] = {"__name__": "provider." + Path(path).stem, "__package__": "provider"}
    exec(block(path).source, namespace)  # noqa: S102 - the page's own example, run to keep it true
    cls = namespace[class_name]
    assert issubclass(cls, OAuth2Provider)
    return cls


def instance(cls: type[OAuth2Provider]) -> OAuth2Provider:
    return cls(
        authorize_url=cls.authorize_url,
        token_url=cls.token_url,
        revoke_url=cls.revoke_url,
        userinfo_url=cls.userinfo_url,
        scopes=cls.scopes,
        session=requests.Session(),
        timeout=2,
    )


def test_entra_has_no_revocation_and_disconnect_says_so(requests_mock):
    entra = instance(documented("provider/entra.py", "Entra"))
    assert entra.revoke("a-token", client_id="id", client_secret="s") == "unsupported"
    assert requests_mock.request_history == []
    assert "offline_access" in entra.scopes
    url = entra.authorization_url(client_id="id", redirect_uri="https://mm.test/x", state="s", code_challenge="c")
    assert "prompt=select_account" in url


def test_github_revokes_with_a_delete_and_maps_its_user(requests_mock):
    github = instance(documented("provider/github.py", "GitHub"))
    grant = requests_mock.delete("https://api.github.com/applications/the-client/grant", status_code=204)
    assert github.revoke("gho_token", client_id="the-client", client_secret="s3cret") == "revoked"
    assert json.loads(grant.last_request.body) == {"access_token": "gho_token"}
    assert grant.last_request.headers["Authorization"] == "Basic dGhlLWNsaWVudDpzM2NyZXQ="  # the-client:s3cret
    assert grant.last_request.timeout == 2
    requests_mock.get("https://api.github.com/user", json={"id": 583231, "login": "octocat", "name": None, "email": None})
    assert github.userinfo("gho_token") == Identity(sub="583231", email="", name="octocat")
    # With no ID token (GitHub sends none), the identity is userinfo's.
    grant_ = TokenGrant("gho_token", None, None, "read:user", "bearer")
    assert github.identity(grant_, client_id="the-client") == Identity(sub="583231", email="", name="octocat")


@pytest.mark.parametrize(
    "answer",
    [{"exc": requests.ConnectionError}, {"exc": requests.Timeout}, {"status_code": 404}, {"status_code": 500}],
    ids=["unreachable", "timeout", "404", "500"],
)
def test_github_revocation_that_fails_is_unconfirmed_and_never_raises(requests_mock, answer):
    github = instance(documented("provider/github.py", "GitHub"))
    requests_mock.delete("https://api.github.com/applications/the-client/grant", **answer)
    assert github.revoke("gho_token", client_id="the-client", client_secret="s3cret") == "unconfirmed"


def string_constants(path: Path) -> list[str]:
    """The string literals of a module, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and node.body and isinstance(node.body[0], ast.Expr)
    }
    return [
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    ]


def test_the_provider_is_named_in_one_place():
    # Its name and its command come from the AppProvider class: nothing outside provider/ spells them.
    modules = [ROOT / "app.py", ROOT / "commands.py", ROOT / "services.py"]
    modules += [p for d in ("handlers", "bindings", "user_tokens", "mattermost_apps") for p in (ROOT / d).glob("*.py")]
    spelled = {AppProvider.name.lower(), AppProvider.command.lower()}
    for module in modules:
        for value in string_constants(module):
            assert not any(name in value.lower() for name in spelled), (module.name, value)
