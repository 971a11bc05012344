#!/usr/bin/env bash
# make bench-backfill: the backfill worker's files per second on the typical account's simulated
# day (288 files), run as the state machine runs it (calls of 100 files), with in-memory ports
# and with the real S3 and DynamoDB adapters against moto. Kept in OUT/backfill.json.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench-out}
mkdir -p "$OUT"
# The core and adapters optimised, the AWS SDK as in the test build (a release build of the SDK
# takes long on two cores; its CPU share is reported apart by bench-ingest).
OPT=(--config 'profile.dev.package.trailsight-core.opt-level=3' --config 'profile.dev.package.trailsight-aws.opt-level=3'
     --config 'profile.dev.package.zlib-rs.opt-level=3' --config 'profile.dev.package.flate2.opt-level=3'
     --config 'profile.dev.package.serde_json.opt-level=3' --config 'profile.dev.package.simdutf8.opt-level=3')
cargo build -q -p trailsight-trafficgen
cargo build -q "${OPT[@]}" -p trailsight-backfill --example bench_backfill
BIN=${CARGO_TARGET_DIR:-target}/debug
trail=$(bash scripts/typical-trail.sh "$OUT" "$BIN/trafficgen")
bash scripts/with-moto.sh "$BIN/examples/bench_backfill" "$trail" 100 2>/dev/null | tail -1 > "$OUT/backfill.json"
cat "$OUT/backfill.json"
