"""The Dockerfile, docker-compose.yml and the install guide: the wrong turns a new admin met, checked without Docker."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
COMPOSE = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
INSTALL = (ROOT / "docs" / "install.md").read_text(encoding="utf-8")
NOT_THE_APP = {"tests", "bench", "scripts"}


def dockerfile_instructions(name: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def requires_python() -> tuple[int, int]:
    found = re.search(
        r'^requires-python = ">=(\d+)\.(\d+)"$', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.MULTILINE
    )
    assert found
    return int(found.group(1)), int(found.group(2))


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    # Kubernetes' runAsNonRoot refuses a user name: it cannot tell that the name is not root.
    (user,) = dockerfile_instructions("USER")
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", user.strip()), user


def test_the_base_image_is_a_patch_release_of_the_python_minor_the_suite_runs() -> None:
    (base,) = dockerfile_instructions("FROM")
    found = re.fullmatch(r"python:(\d+)\.(\d+)\.\d+-slim-bookworm", base.strip())
    assert found, f"pin a patch release, e.g. python:3.11.16-slim-bookworm, not {base}"
    assert (int(found.group(1)), int(found.group(2))) == requires_python()


def test_the_image_installs_exactly_the_hashed_lock_then_the_sdk_without_its_dependencies() -> None:
    installs = [run for run in dockerfile_instructions("RUN") if "pip install" in run]
    assert len(installs) == 2, "the image installs the lock, then the SDK from its folder, at build time"
    assert re.search(r"pip install --no-cache-dir --require-hashes --no-deps -r requirements\.txt(\s|$)", installs[0])
    assert "pip install --no-cache-dir --no-deps --no-build-isolation /tmp/mattermost-apps" in installs[1]


def test_the_image_carries_the_sdk_but_not_its_testing_kit() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "packages/*/mattermost_apps/testing" in ignored and "packages/*/tests" in ignored
    sdk = tomllib.loads((ROOT / "packages" / "mattermost-apps" / "pyproject.toml").read_text(encoding="utf-8"))
    # Found, not listed: a package .dockerignore left out is simply not installed.
    assert sdk["tool"]["setuptools"]["packages"]["find"]["include"] == ["mattermost_apps*"]


def test_the_image_copies_only_existing_files_and_every_module_of_the_app() -> None:
    copied: set[str] = set()
    for copy in dockerfile_instructions("COPY"):
        *sources, _destination = copy.split()
        for source in sources:
            assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which does not exist"
            copied.add(source.rstrip("/"))
    modules = {p.name for p in ROOT.glob("*.py")}
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - NOT_THE_APP
    assert modules | packages | {"manifest.json", "static", "templates", "LICENSE", "packages/mattermost-apps"} <= copied


def published_ports() -> list[str]:
    ports: list[str] = []
    in_ports = False
    for line in COMPOSE.splitlines():
        if re.fullmatch(r"\s+ports:", line):
            in_ports = True
        elif in_ports and (item := re.fullmatch(r'\s+- "?([^"#]+?)"?\s*', line)):
            ports.append(item.group(1))
        elif in_ports and not re.fullmatch(r"\s+#.*", line):
            in_ports = False
    return ports


def test_compose_publishes_its_ports_on_the_loopback_only() -> None:
    ports = published_ports()
    assert "127.0.0.1:8065:8065" in ports
    assert all(port.startswith("127.0.0.1:") for port in ports), ports


def test_compose_leaves_developer_mode_off() -> None:
    assert "ENABLEDEVELOPER" not in COMPOSE
    assert "ENABLETESTING" not in COMPOSE


def test_one_image_name_everywhere() -> None:
    project = re.search(r"^name: (\S+)$", COMPOSE, re.MULTILINE).group(1)  # type: ignore[union-attr]
    app_image = re.search(r"^  app:\n(?:    .*\n)*?    image: (\S+)$", COMPOSE, re.MULTILINE).group(1)  # type: ignore[union-attr]
    built = set(re.findall(r"docker build -t (\S+) \.", DOCKERFILE + README + INSTALL))
    # The image is the last word of each `docker run` (continuation lines joined).
    run = {line.split()[-1] for line in re.sub(r"\\\n", " ", DOCKERFILE + INSTALL).splitlines() if "docker run " in line}
    assert {project, app_image} | built | run == {project}, (
        "use one image name in the Dockerfile, README, install guide and compose file"
    )


def test_compose_header_sends_the_reader_to_the_install_step() -> None:
    step = int(re.search(r"\"Install into Mattermost\" at step (\d+)", COMPOSE).group(1))  # type: ignore[union-attr]
    section = README.split("## Install into Mattermost", 1)[1].split("\n## ", 1)[0]
    text = re.search(rf"(?ms)^{step}\. (.*?)(?=^\d+\. |\Z)", section).group(1)  # type: ignore[union-attr]
    assert "/apps install http" in text, f"step {step} of the README's install steps is not the install itself"


def secret_recipes() -> list[str]:
    lines = [line.strip().removeprefix("#").strip() for line in (COMPOSE + INSTALL).splitlines()]
    return [line for line in lines if "APP_SECRET=$(" in line]


def test_the_generated_secret_is_kept_in_a_file_only_its_owner_reads(tmp_path: Path) -> None:
    recipes = secret_recipes()
    assert len(recipes) == 3  # the compose header, the compose walk-through, docker run
    python_dir = str(Path(sys.executable).parent)
    for recipe in recipes:
        target = re.search(r"> (\S+)\)$", recipe).group(1)  # type: ignore[union-attr]
        subprocess.run(["bash", "-c", recipe], cwd=tmp_path, check=True, env={"PATH": f"{python_dir}:/usr/bin:/bin"})
        written = tmp_path / target
        assert stat.S_IMODE(written.stat().st_mode) == 0o600, recipe
        assert re.fullmatch(r"APP_SECRET=[A-Za-z0-9_-]{43}\n", written.read_text(encoding="utf-8"))
        written.unlink()
    assert "--env-file app.env" in INSTALL


# -- which Mattermost: the newest supported release that still runs the Apps plugin ------------------------------------

MATTERMOST_IMAGE = re.compile(r"image: mattermost/mattermost-(?:enterprise|team)-edition:(\d+)\.(\d+)\.(\d+)$", re.MULTILINE)


def test_compose_runs_a_mattermost_of_the_v11_line_with_the_apps_flag_on() -> None:
    # v10.0 turned AppsEnabled off by default (and off forces the plugin disabled); the flag and the web client's Apps
    # code remain through v11, and v12 plans to force the flag off. 7.9 is long past its end of life.
    versions = {tuple(map(int, found)) for found in MATTERMOST_IMAGE.findall(COMPOSE)}
    assert versions and all(major == 11 for major, _minor, _patch in versions), versions
    assert len(versions) == 1, "the server and the plugin installer use the same image"
    assert re.search(r'^\s+MM_FEATUREFLAGS_APPSENABLED: "true"$', COMPOSE, re.MULTILINE)


def test_compose_installs_the_last_apps_plugin_release() -> None:
    # No v10+ server ships or fetches plugin 1.2.2: something must install the bundle, then enable it.
    assert "v1.2.2/com.mattermost.apps-1.2.2.tar.gz" in COMPOSE
    assert "plugin add" in COMPOSE and "plugin enable com.mattermost.apps" in COMPOSE
    assert 'MM_PLUGINSETTINGS_ENABLEUPLOADS: "true"' in COMPOSE


def test_no_deploy_file_names_a_feature_flag_that_no_longer_exists_outside_the_fallback() -> None:
    # PluginApps chose the plugin version on 7.x; it does not exist from 9.x on.
    assert "PluginApps" not in COMPOSE
    before_fallback = INSTALL.split("## 7. ", 1)[0]
    mentions = [line for line in before_fallback.splitlines() if "PluginApps" in line]
    assert all("does not" in line for line in mentions), mentions  # named only to say it is gone
    assert "PluginApps" not in README


def test_the_docs_tell_the_version_story_from_the_servers_source() -> None:
    # The plugin's repository is deprecated, not archived, and v10+ servers still run it with the flag on.
    for doc in (README, INSTALL):
        assert "archived" not in doc.replace("not archived", "")
        assert "no longer runs Apps" not in doc and "no longer run Apps" not in doc
    for source in ("#27756", "getPluginStateOverride", "#37866", "server/channels/app/plugin.go"):
        assert source in INSTALL, f"docs/install.md should cite {source}"
    assert "make lint" in INSTALL.split("## 8. ", 1)[-1] and "Not verified here" in INSTALL
