#!/usr/bin/env bash
# Installs what the test suite needs, idempotently, into the project (.venv): nothing by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 >/dev/null || { echo "test-env: python3 is required (apt-get install python3)"; exit 1; }
command -v cargo >/dev/null || { echo "test-env: cargo is required (rustup)"; exit 1; }
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# Python tools the tests use; the list grows with the integration tests that need them.
REQS=scripts/test-requirements.txt
if [ -s "$REQS" ] && ! cmp -s "$REQS" .venv/.installed 2>/dev/null; then
  .venv/bin/pip install -q -r "$REQS"
  cp "$REQS" .venv/.installed
fi
# Debian's chromium for the report's browser check (playwright drives it; no browser download).
if ! command -v chromium >/dev/null; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
      echo "test-env: Debian's chromium is needed for the report check; run: sudo apt-get install chromium"
      exit 1
    fi
  fi
  echo "test-env: installing chromium (apt-get)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
echo "test-env: ready (.venv, chromium)"
