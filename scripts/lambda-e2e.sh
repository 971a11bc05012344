#!/usr/bin/env bash
# End to end through the real Lambda runtime API: builds the ingest function, runs it under
# `cargo lambda watch` (a local Lambda runtime) pointed at moto, invokes it once with
# `cargo lambda invoke` on an SQS-wrapped S3 notification, and checks the effects: the
# ledger entry and counts in DynamoDB, and the risky-change event on an EventBridge rule's
# SQS target. Run inside scripts/with-moto.sh (it needs TRAILSIGHT_MOTO_ENDPOINT).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TRAILSIGHT_MOTO_ENDPOINT:?run this through scripts/with-moto.sh (make integration)}"
export PATH="$PWD/.venv/bin:$PATH"
command -v cargo-lambda >/dev/null || { echo "lambda-e2e: cargo-lambda missing; run 'make test-env'" >&2; exit 1; }
WORK=$(mktemp -d -t lambda-e2e.XXXXXX)
PORT=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
WATCH_PID=""
cleanup() { [ -n "$WATCH_PID" ] && kill -- -"$WATCH_PID" 2>/dev/null || true; }
trap cleanup EXIT

# 1. Resources and a log file on moto (boto3 comes with moto).
python tests/scripts/lambda_e2e.py setup "$WORK"
source "$WORK/env"

# 2. The function under the local runtime API (built first, with the same profile and target
#    `cargo lambda watch` uses, so it starts at once).
cargo build -p trailsight-ingest --bin ingest >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
setsid cargo lambda watch -p trailsight-ingest -A 127.0.0.1 -P "$PORT" \
  --env-var "TABLE_NAME=$TABLE_NAME,EVENT_BUS_NAME=$EVENT_BUS_NAME,AWS_ENDPOINT_URL=$TRAILSIGHT_MOTO_ENDPOINT,AWS_REGION=us-east-1,AWS_ACCESS_KEY_ID=testing,AWS_SECRET_ACCESS_KEY=testing" \
  >"$WORK/watch.log" 2>&1 &
WATCH_PID=$!
for _ in $(seq 1 300); do
  python -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null && break
  kill -0 "$WATCH_PID" 2>/dev/null || { echo "lambda-e2e: cargo lambda watch exited:" >&2; cat "$WORK/watch.log" >&2; exit 1; }
  sleep 1
done

# 3. One invocation through the runtime API.
if ! cargo lambda invoke ingest -A 127.0.0.1 -P "$PORT" --data-file "$WORK/event.json" -o json >"$WORK/response.json" 2>"$WORK/invoke.err"; then
  echo "lambda-e2e: invoke failed:" >&2; cat "$WORK/invoke.err" "$WORK/watch.log" >&2; exit 1
fi

# 4. The effects.
python tests/scripts/lambda_e2e.py verify "$WORK"
grep -q '"InsightsStarted"' "$WORK/watch.log" || { echo "lambda-e2e: no EMF metrics line in the function's output" >&2; cat "$WORK/watch.log" >&2; exit 1; }
echo "lambda-e2e: ok (cargo lambda watch + invoke, response $(cat "$WORK/response.json"))"
