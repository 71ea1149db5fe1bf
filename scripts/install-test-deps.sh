#!/usr/bin/env bash
# Installs what the end-to-end tests need beyond the Python venv, only when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "install-test-deps: nothing to install yet"
