#!/usr/bin/env bash
# make bench-org: an organization trail's hour (1,000 accounts x 4 regions by default, a
# long-tailed mix of quiet and busy accounts) through the ingest handler with in-memory
# ports, every round of deliveries at once, the store metered by the DynamoDB adapter's size
# model: files per second per function instance, items and units per partition key per
# second against DynamoDB's per-partition limits, the largest partition's share, the cost per
# 100,000 events. Kept in OUT/org.json; extra arguments go to bench-org (--accounts 100 for a
# quick run, --help for all).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench-out}
shift || true
mkdir -p "$OUT"
# A debug build with the hot crates optimised (tools/bench-ingest/optimised-dev.toml): it
# reuses the tests' debug build of the AWS SDK instead of a release build of it.
cargo build -q -p trailsight-bench-ingest --bin bench-org --config tools/bench-ingest/optimised-dev.toml
BIN=${CARGO_TARGET_DIR:-target}/debug
"$BIN/bench-org" --json "$OUT/org.json" "$@"
