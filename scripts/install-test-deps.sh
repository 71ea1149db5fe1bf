#!/usr/bin/env bash
# Installs what the end-to-end tests need beyond the Python venv, only when it is missing: Node.js 20+ is checked first
# (before anything slow), then the npm packages in tests/node (the test OAuth2 server, the web-client code) and in the
# SDK's packages/mattermost-apps/tests/node (the web-client code its own tests run), Debian's chromium (for Playwright;
# no browser download) and Debian's redis-server (the tests start private instances of it for the refresh lock across
# hosts).
#   --demo   only what `make demo` uses: Node and the npm packages of tests/node (no chromium, no redis-server)
# CHROMIUM and REDIS_SERVER name the two programs looked for (default /usr/bin/chromium, redis-server on the PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_DIRS=(tests/node packages/mattermost-apps/tests/node)
NODE_MAJOR=20
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
DEMO=0
if [ "${1:-}" = "--demo" ]; then DEMO=1; fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install-test-deps: Node.js $NODE_MAJOR or later with npm is required for the test OAuth2 server (oidc-provider) and the web-client checks (mattermost-redux):" >&2
  echo "  install it, e.g. 'apt-get install -y nodejs npm' (Debian 12 has Node 18: use NodeSource or nvm for 20 or 22)" >&2
  exit 1
fi
node_version=$(node -p 'process.versions.node')
if [ "${node_version%%.*}" -lt "$NODE_MAJOR" ]; then
  echo "install-test-deps: Node.js $NODE_MAJOR or later is required, but 'node' is $node_version: install Node.js 20 or 22 LTS" >&2
  exit 1
fi

# npm ci when node_modules is missing or older than the lock file; the demo needs only the first folder.
for node_dir in "${NODE_DIRS[@]}"; do
  if [ "$DEMO" -eq 1 ] && [ "$node_dir" != tests/node ]; then
    continue
  fi
  if [ ! -d "$node_dir/node_modules" ] || [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules" ]; then
    echo "install-test-deps: npm ci in $node_dir (a few seconds)"
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$node_dir/node_modules"
  fi
done

if [ "$DEMO" -eq 1 ]; then
  exit 0
fi

if [ ! -x "$CHROMIUM" ]; then
  command -v apt-get >/dev/null || { echo "install-test-deps: $CHROMIUM is missing and there is no apt-get: install Chromium at /usr/bin/chromium" >&2; exit 1; }
  echo "install-test-deps: installing chromium (apt-get, a minute or two)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if ! command -v "$REDIS_SERVER" >/dev/null; then
  command -v apt-get >/dev/null || { echo "install-test-deps: redis-server is missing and there is no apt-get: install Redis 7 (redis-server on the PATH)" >&2; exit 1; }
  echo "install-test-deps: installing redis-server (apt-get)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
