# Two commands do everything on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test test-fast lint bench bench-docs demo clean

# The venv is rebuilt whenever a requirements file changes.
$(VENV)/.runtime: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## run: serve the app on http://localhost:8080 with zero configuration (gunicorn app:app)
run: $(VENV)/.runtime
	$(VENV)/bin/gunicorn app:app

## test: install what the suite needs (venv, npm packages, Chromium) and run all of it
test: $(VENV)/.dev
	bash scripts/install-test-deps.sh
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

## test-fast: the unit tests only (no browser, no node)
test-fast: $(VENV)/.dev
	$(PY) -m pytest -m "not e2e"

## demo: click through the whole flow in a browser, no Mattermost or Google needed (Ctrl-C stops it)
demo: $(VENV)/.dev
	bash scripts/install-test-deps.sh
	$(PY) -m tests.e2e.demo

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

## bench: what a user waits for per operation (stubs 50 ms away), throughput beside an honest baseline (wrk); see docs/performance.md
bench: $(VENV)/.dev
	$(PY) -m bench.run

## bench-docs: the same run, then refresh the marked section of docs/performance.md from it
bench-docs: $(VENV)/.dev
	$(PY) -m bench.run --docs

clean:
	rm -rf $(VENV) tests/oidc_provider/node_modules artifacts .pytest_cache .ruff_cache
