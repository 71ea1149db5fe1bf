"""The provider subclasses docs/adapting.md shows work as it says: taken from the page itself, each builds an app
whose command, sentences, revocation and identity are that provider's."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

import requests

from provider import Identity, OAuth2Provider, Provider, RevokeOutcome, TokenGrant

PAGE_PATH = Path(__file__).resolve().parents[2] / "docs" / "adapting.md"
PAGE = PAGE_PATH.read_text(encoding="utf-8")


def documented(class_name: str) -> type[OAuth2Provider]:
    (source,) = [block for block in re.findall(r"```python\n(.*?)```", PAGE, re.S) if f"class {class_name}(" in block]
    namespace: dict[str, Any] = {"OAuth2Provider": OAuth2Provider, "MappingProxyType": MappingProxyType, "Identity": Identity}
    namespace["RevokeOutcome"] = RevokeOutcome
    exec(source, namespace)  # noqa: S102 - the page's own example, run to keep it true
    return namespace[class_name]


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
    entra = instance(documented("Entra"))
    assert entra.revoke("a-token", client_id="id", client_secret="s") == "unsupported"
    assert requests_mock.request_history == []
    assert "offline_access" in entra.scopes
    url = entra.authorization_url(client_id="id", redirect_uri="https://mm.test/x", state="s", code_challenge="c")
    assert "prompt=select_account" in url


def test_github_revokes_with_a_delete_and_maps_its_user(requests_mock):
    github = instance(documented("GitHub"))
    grant = requests_mock.delete("https://api.github.com/applications/the-client/grant", status_code=204)
    assert github.revoke("gho_token", client_id="the-client", client_secret="s3cret") == "revoked"
    assert json.loads(grant.last_request.body) == {"access_token": "gho_token"}
    assert grant.last_request.headers["Authorization"].startswith("Basic ")
    requests_mock.get("https://api.github.com/user", json={"id": 583231, "login": "octocat", "name": None, "email": None})
    assert github.userinfo("gho_token") == Identity(sub="583231", email="", name="octocat")
    # With no ID token (GitHub sends none), the identity is userinfo's.
    grant = TokenGrant("gho_token", None, None, "read:user", "bearer")
    assert github.identity(grant, client_id="the-client") == Identity(sub="583231", email="", name="octocat")


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
    # Its name and its command come from the Provider class: nothing outside provider/ spells them.
    root = PAGE_PATH.parents[1]
    modules = [root / "app.py", root / "commands.py", root / "services.py"]
    modules += [p for d in ("handlers", "bindings", "user_tokens", "mattermost_apps") for p in (root / d).glob("*.py")]
    spelled = {Provider.name.lower(), Provider.command.lower()}
    for module in modules:
        for value in string_constants(module):
            assert not any(name in value.lower() for name in spelled), (module.name, value)
