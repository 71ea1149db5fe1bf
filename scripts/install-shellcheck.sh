#!/usr/bin/env bash
# Installs the shellcheck that `make lint` runs, pinned to Debian 12's package, through apt-get when it is
# missing or another version: the same checks on every machine, as with the tools the lock pins.
set -euo pipefail

SHELLCHECK_VERSION=0.9.0
DEBIAN_PACKAGE="shellcheck=${SHELLCHECK_VERSION}-1"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

installed() {
  command -v shellcheck >/dev/null && [ "$(shellcheck --version | sed -n 's/^version: //p')" = "$SHELLCHECK_VERSION" ]
}

installed && exit 0
if ! command -v apt-get >/dev/null; then
  echo "install-shellcheck: make lint needs shellcheck $SHELLCHECK_VERSION on PATH (Debian 12's package); there is no apt-get to install it" >&2
  exit 1
fi
echo "install-shellcheck: installing $DEBIAN_PACKAGE (apt-get)"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --allow-downgrades "$DEBIAN_PACKAGE" >/dev/null
installed || { echo "install-shellcheck: shellcheck $SHELLCHECK_VERSION is still not the one on PATH ($(command -v shellcheck || echo none))" >&2; exit 1; }
