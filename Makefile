# Two commands do everything on a fresh machine: `make run` and `make test`. `make` alone lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The interpreter that creates the venv (checked against pyproject's requires-python first): make run PYTHON=python3.12
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Only the locked files, each checked against its hash; --no-deps because the lock already lists every dependency.
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps
# uv reads no pip configuration and, with --no-config, no uv.toml: the lock names PyPI's files and their hashes.
# --universal: one lock for every platform and every Python that requires-python allows.
UV_COMPILE := env -u UV_INDEX -u UV_INDEX_URL -u UV_DEFAULT_INDEX -u UV_EXTRA_INDEX_URL -u UV_FIND_LINKS \
	$(VENV)/bin/uv pip compile --quiet --no-config --universal --generate-hashes --custom-compile-command "make lock"
# make lock LOCK_ARGS=--upgrade moves every pin to the newest release that pyproject.toml allows.
LOCK_ARGS ?=
SHELL_SCRIPTS := .ci/run $(wildcard scripts/*.sh)

.PHONY: help run test test-fast lint lock bench bench-docs demo clean

SDK := packages/mattermost-apps
# The SDK from its own folder, editable, after the lock: pip's --require-hashes refuses a folder, so the SDK's own
# dependencies are in the lock and the folder is installed with --no-deps (setuptools, its build backend, is locked too).
SDK_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --editable $(SDK)

# Three venv levels, each a superset of the one before at the same versions: runtime (make run), test (make test-fast:
# no browser tooling) and dev (make test, lint, demo, bench). A new runtime lock makes the venv anew.
$(VENV)/.runtime: requirements.txt $(SDK)/pyproject.toml
	bash scripts/check-python.sh $(PYTHON)
	rm -rf $(VENV)
	@echo "make: creating $(VENV) and installing the locked runtime packages (requirements.txt; about 20 s on a cold cache)"
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements.txt
	$(SDK_INSTALL)
	$(PY) -m pip check --disable-pip-version-check
	touch $@

$(VENV)/.test: requirements-test.txt $(VENV)/.runtime
	@echo "make: adding the test tools to $(VENV) (requirements-test.txt)"
	$(PIP_INSTALL) -r requirements-test.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.test
	@echo "make: adding the lint, browser and lock tools to $(VENV) (requirements-dev.txt; about a minute on a cold cache)"
	$(PIP_INSTALL) -r requirements-dev.txt
	$(PY) -m pip check --disable-pip-version-check
	touch $@

## help: list the targets (what `make` alone does)
help:
	@sed -n 's/^## \([a-z-]*\): \(.*\)/\1\t\2/p' $(firstword $(MAKEFILE_LIST)) | awk -F'\t' '{printf "  make %-10s %s\n", $$1, $$2}'

## run: serve the app on http://localhost:8080 with zero configuration (python -m app: checks the settings, then gunicorn app:app)
run: $(VENV)/.runtime
	$(PY) -m app

## test: install what the suite needs (venv, shellcheck, npm packages, Chromium), run make lint, then all of pytest
test: lint
	bash scripts/install-test-deps.sh
	$(PY) -m pytest

## test-fast: the tests that start no process and need no Node or browser (pytest -m "not e2e"), from a venv without browser tooling
test-fast: $(VENV)/.test
	$(PY) -m pytest -m "not e2e"

## lint: ruff check and format, mypy, the lock against pyproject.toml, hadolint, the compose file, shellcheck
lint: $(VENV)/.dev
	bash scripts/install-shellcheck.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) scripts/check_lock.py
	$(VENV)/bin/hadolint --no-color --failure-threshold style Dockerfile
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	shellcheck $(SHELL_SCRIPTS)

## lock: regenerate the hashed requirements.txt, requirements-test.txt and requirements-dev.txt from pyproject.toml and the SDK's (needs PyPI)
lock: $(VENV)/.dev
	$(UV_COMPILE) $(LOCK_ARGS) pyproject.toml $(SDK)/pyproject.toml --group build -o requirements.txt
	$(UV_COMPILE) $(LOCK_ARGS) pyproject.toml $(SDK)/pyproject.toml --group build --group test -c requirements.txt -o requirements-test.txt
	$(UV_COMPILE) $(LOCK_ARGS) pyproject.toml $(SDK)/pyproject.toml --group build --group dev -c requirements.txt -o requirements-dev.txt

## demo: click through the whole flow in a browser, no Mattermost or Google needed (needs Node.js 20+; Ctrl-C stops it)
# Node is checked first, before the venv is built: the demo's OAuth2 server runs on it. No Chromium, no Redis.
demo:
	bash scripts/install-test-deps.sh --demo
	@$(MAKE) --no-print-directory --silent $(VENV)/.dev
	$(PY) -m tests.e2e.demo

## bench: what a user waits for per operation and its sequential round trips, stubs 50 ms away; see docs/performance.md
bench: $(VENV)/.dev
	$(PY) -m bench.run

## bench-docs: the same run, then refresh the figures in docs/performance.md from it
bench-docs: $(VENV)/.dev
	$(PY) -m bench.run --docs

## clean: delete the venv, the npm packages, test artifacts and caches
clean:
	rm -rf $(VENV) tests/node/node_modules $(SDK)/tests/node/node_modules artifacts .pytest_cache .ruff_cache .mypy_cache .hypothesis
