#!/usr/bin/env bash
# Run by the Makefile before it creates the venv: stops, in one line, when the interpreter is older than
# pyproject.toml's requires-python or cannot create a venv, instead of installing everything and then failing.
#   bash scripts/check-python.sh [PYTHON]     (default: python3)
set -euo pipefail
cd "$(dirname "$0")/.."

python=${1:-python3}
minimum=$(sed -n 's/^requires-python = ">=\([0-9][0-9.]*\)"$/\1/p' pyproject.toml)
if [ -z "$minimum" ]; then
  echo "check-python: pyproject.toml has no line of the form requires-python = \">=X.Y\"" >&2
  exit 2
fi
need="Python $minimum or later is needed (requires-python >= $minimum in pyproject.toml)"
hint="install it, or name another interpreter, e.g. make run PYTHON=python3.12"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "$need, and there is no $python: $hint" >&2
  exit 1
fi
if ! version=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null); then
  echo "$need, and $python does not run: $hint" >&2
  exit 1
fi
if [ "$(printf '%s\n%s\n' "$minimum" "$version" | sort -V | head -n 1)" != "$minimum" ]; then
  echo "$need, but $python is $version: $hint" >&2
  exit 1
fi
if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  echo "$python ($version) cannot create a venv (no ensurepip): on Debian, apt-get install python3-venv" >&2
  exit 1
fi
