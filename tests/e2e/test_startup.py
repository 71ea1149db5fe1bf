"""Starting the app as an admin does (`python -m app`, what `make run` and the image run): a bad setting stops it,
before any worker starts, with one line naming the variable; the start-up notices come once per start, not once per
worker; every line has one format, and LOG_FORMAT=json makes each one a JSON object."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from .harness import REPO_ROOT, free_port

pytestmark = pytest.mark.e2e


def environment(tmp_path, **variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "OAUTH2_", "LOG_", "GUNICORN_", "WEB_"))}
    return {**env, "APP_SECRET_FILE": str(tmp_path / "instance" / "app_secret"), "HOST": "127.0.0.1", **variables}


BAD_SETTINGS = [
    ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL."),
    ({"ROOT_URL": "app:8080"}, "ROOT_URL must be an absolute http(s) URL with a host, not 'app:8080'."),
    ({"PORT": "70000"}, "PORT must be between 1 and 65535, not 70000."),
    ({"TOKEN_ENCRYPTION_KEY": "nope"}, "TOKEN_ENCRYPTION_KEY must be a comma-separated list of Fernet keys"),
]
# gunicorn reads WEB_CONCURRENCY itself, before any configuration file: `python -m app` checks it first.
CASES = [(["-m", "app"], v, line) for v, line in BAD_SETTINGS]
CASES += [(["-m", "app"], {"WEB_CONCURRENCY": "two"}, "WEB_CONCURRENCY must be a whole number, not 'two'.")]
# gunicorn started by hand reads only its own settings (gunicorn.conf.py): a bad one stops it with the same one line.
CASES += [(["-m", "gunicorn", "app:app"], {"PORT": "70000"}, "PORT must be between 1 and 65535, not 70000.")]


@pytest.mark.parametrize(("launcher", "variables", "line"), CASES, ids=[f"{' '.join(c[0])} {next(iter(c[1]))}" for c in CASES])
def test_a_bad_setting_stops_the_start_with_one_line(tmp_path, launcher, variables, line):
    result = subprocess.run(
        [sys.executable, *launcher],
        check=False,
        cwd=REPO_ROOT,
        env=environment(tmp_path, **variables),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line, no traceback
    assert result.stderr.strip().startswith(line)
    assert not (tmp_path / "instance" / "app_secret").exists()  # nothing generated for a start that did not happen


def serve_briefly(tmp_path, **variables: str) -> list[str]:
    """Start with 2 workers, wait for an answer, stop; the lines printed."""
    port = free_port()
    env = environment(tmp_path, PORT=str(port), WEB_CONCURRENCY="2", **variables)
    process = subprocess.Popen(
        [sys.executable, "-m", "app"], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/manifest.json", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        time.sleep(0.5)  # both workers booted
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    return output.splitlines()


def test_each_notice_once_per_start_and_the_secrets_place_only_on_the_first(tmp_path):
    first = serve_briefly(tmp_path)
    assert sum("generated one and saved it in" in line for line in first) == 1
    assert sum("TOKEN_ENCRYPTION_KEY is not set" in line for line in first) == 1
    assert sum("MATTERMOST_SITE_URL is not set" in line for line in first) == 1
    assert sum("Booting worker" in line for line in first) == 2
    second = serve_briefly(tmp_path)
    assert not any("generated one and saved it in" in line for line in second)
    assert sum("TOKEN_ENCRYPTION_KEY is not set" in line for line in second) == 1


def test_one_format_for_the_apps_lines_and_gunicorns(tmp_path):
    lines = [line for line in serve_briefly(tmp_path) if line.strip()]
    for line in lines:
        assert " INFO [" in line or " WARNING [" in line, line  # time level [pid] logger: message
    # and no line per request: serve_briefly made several
    assert not [line for line in lines if "gunicorn.access" in line or "GET /manifest.json" in line]


def test_log_format_json_makes_every_line_an_object(tmp_path):
    lines = [line for line in serve_briefly(tmp_path, LOG_FORMAT="json") if line.strip()]
    assert lines
    for line in lines:
        record = json.loads(line)
        assert {"time", "level", "pid", "logger", "message"} <= record.keys()
    assert any(json.loads(line)["logger"] == "gunicorn.error" for line in lines)
