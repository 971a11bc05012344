#!/usr/bin/env bash
# make bench-burst: N files of one account-region stream delivered at the same moment (N = 2, 5,
# 10, 20), through the ingest code with the real adapters against moto, uncapped and under a
# reserved concurrency of 1, 2 and 5, then with the stream's turn (files take turns): per burst the commits, the conflicts (a file reloads and
# commits again), the files that gave up after MAX_ATTEMPTS, and the times. Kept in
# OUT/burst-*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench-out}
mkdir -p "$OUT"
# A debug build: the times are moto's and the requests', not the code's (and it reuses the
# test build instead of a release build of the AWS SDK).
cargo build -q -p trailsight-trafficgen -p trailsight-bench-ingest
BIN=${CARGO_TARGET_DIR:-target}/debug
trail=$(bash scripts/typical-trail.sh "$OUT" "$BIN/trafficgen")
# Without turns (every file commits optimistically) uncapped and reserved 1, 2, 5; then with
# the stream's turn (the default) uncapped.
for reserved in 0 1 2 5; do
  bash scripts/with-moto.sh "$BIN/bench-ingest" --trail "$trail" --concurrent 2,5,10,20 \
    --reserved "$reserved" --turn-wait 0 --json "$OUT/burst-reserved-$reserved.json" >/dev/null
done
bash scripts/with-moto.sh "$BIN/bench-ingest" --trail "$trail" --concurrent 2,5,10,20 \
  --reserved 0 --json "$OUT/burst-turns.json" >/dev/null
