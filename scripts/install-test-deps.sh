#!/usr/bin/env bash
# Installs what the end-to-end tests need beyond the Python venv, only when it is missing:
# Debian's chromium (for Playwright; no browser download), Debian's redis-server (the tests start private instances of
# it for the refresh lock across hosts) and the npm packages in tests/node (the test OAuth2 server, the web-client code)
# and in the SDK's packages/mattermost-apps/tests/node (the web-client code its own tests run).
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_DIRS=(tests/node packages/mattermost-apps/tests/node)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ ! -x /usr/bin/chromium ]; then
  command -v apt-get >/dev/null || { echo "install-test-deps: /usr/bin/chromium is missing and there is no apt-get: install Chromium at /usr/bin/chromium" >&2; exit 1; }
  echo "install-test-deps: installing chromium (apt-get)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if ! command -v redis-server >/dev/null; then
  command -v apt-get >/dev/null || { echo "install-test-deps: redis-server is missing and there is no apt-get: install Redis 7 (redis-server on the PATH)" >&2; exit 1; }
  echo "install-test-deps: installing redis-server (apt-get)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install-test-deps: node and npm are required for the test OAuth2 server (oidc-provider) and the web-client checks (mattermost-redux):" >&2
  echo "  install Node.js 20 or later with npm, e.g. 'apt-get install -y nodejs npm'" >&2
  exit 1
fi

# npm ci when node_modules is missing or older than the lock file.
for node_dir in "${NODE_DIRS[@]}"; do
  if [ ! -d "$node_dir/node_modules" ] || [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules" ]; then
    echo "install-test-deps: npm ci in $node_dir"
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$node_dir/node_modules"
  fi
done
