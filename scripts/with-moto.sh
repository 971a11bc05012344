#!/usr/bin/env bash
# Runs a command with a moto server (the AWS emulator from .venv) on 127.0.0.1 at a free port,
# exported as TRAILSIGHT_MOTO_ENDPOINT; the server is stopped when the command ends.
# Usage: scripts/with-moto.sh cargo test -p trailsight-it
set -euo pipefail
cd "$(dirname "$0")/.."
MOTO=.venv/bin/moto_server
if [ ! -x "$MOTO" ]; then
  echo "with-moto: $MOTO is missing; run 'make test-env' (installs moto[server] into .venv)" >&2
  exit 1
fi
PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
LOG=$(mktemp -t moto.XXXXXX.log)
# moto_server, with DynamoDB requests serialised (see scripts/moto_server.py)
.venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/moto-api/', timeout=1)" 2>/dev/null; then
    break
  fi
  if ! kill -0 $PID 2>/dev/null; then
    echo "with-moto: moto server exited; its log:" >&2; cat "$LOG" >&2; exit 1
  fi
  sleep 0.2
done
export TRAILSIGHT_MOTO_ENDPOINT="http://127.0.0.1:$PORT"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
echo "with-moto: moto server at $TRAILSIGHT_MOTO_ENDPOINT (log $LOG)"
"$@"
