#!/usr/bin/env bash
# Installs what the end-to-end tests need beyond the Python venv, only when it is missing:
# Debian's chromium (for Playwright; no browser download) and the npm packages of the test OAuth2 server.
set -euo pipefail
cd "$(dirname "$0")/.."

PROVIDER_DIR=tests/oidc_provider

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ ! -x /usr/bin/chromium ]; then
  command -v apt-get >/dev/null || { echo "install-test-deps: /usr/bin/chromium is missing and there is no apt-get: install Chromium at /usr/bin/chromium" >&2; exit 1; }
  echo "install-test-deps: installing chromium (apt-get)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install-test-deps: node and npm are required for the test OAuth2 server (oidc-provider):" >&2
  echo "  install Node.js 20 or later with npm, e.g. 'apt-get install -y nodejs npm'" >&2
  exit 1
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -d "$PROVIDER_DIR/node_modules" ] || [ "$PROVIDER_DIR/package-lock.json" -nt "$PROVIDER_DIR/node_modules" ]; then
  echo "install-test-deps: npm ci in $PROVIDER_DIR"
  (cd "$PROVIDER_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$PROVIDER_DIR/node_modules"
fi
