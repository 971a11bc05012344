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
echo "test-env: ready (.venv)"
