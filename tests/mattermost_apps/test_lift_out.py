"""`mattermost_apps/` lifts out whole: copied alone into another folder, it imports and serves a signed call, and no
module of it imports anything from the app around it."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mattermost_apps"

AN_APP_OF_ITS_OWN = """
import json, sys
sys.path.insert(0, sys.argv[1])
from flask import Flask
from mattermost_apps import CallRouter, ok
from mattermost_apps.testing import InstalledApp, User, build_call_request, call_headers

app = Flask("another_app")
router = CallRouter()
router.add("/hello", lambda call, services: ok("hello " + call.context.acting_user_id))
router.install(app, jwt_secret="another-apps-secret-0123456789abcdef", services=None, explain=str)
installed = InstalledApp(app_id="another", root_url="http://another.test", secret="another-apps-secret-0123456789abcdef",
                         bot=User(id="b" * 26, username="another", is_bot=True), bot_access_token="t", site_url="http://mm.test")
alice = User(id="u" * 26, username="u")
body = build_call_request(installed, {"path": "/hello", "expand": {"acting_user": "id"}}, acting_user=alice)
response = app.test_client().post("/hello", data=json.dumps(body), headers=call_headers(installed, body))
print(response.status_code, response.get_json()["text"])
"""


def test_a_copy_of_the_folder_serves_a_signed_call_in_another_project(tmp_path):
    shutil.copytree(PACKAGE, tmp_path / "mattermost_apps", ignore=shutil.ignore_patterns("__pycache__"))
    # -I: no current directory, no PYTHONPATH on sys.path, so nothing of this repository can be imported.
    result = subprocess.run(
        [sys.executable, "-I", "-c", AN_APP_OF_ITS_OWN, str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "200 hello " + "u" * 26


def test_no_module_imports_the_app_around_it():
    app_modules = {p.stem for p in PACKAGE.parent.glob("*.py")} | {
        p.name for p in PACKAGE.parent.iterdir() if (p / "__init__.py").exists()
    }
    app_modules -= {"mattermost_apps"}
    for source in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            assert not {name.split(".")[0] for name in names} & app_modules, (source.name, names)
