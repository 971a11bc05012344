#!/usr/bin/env bash
# make bench-ingest: a simulated day of CloudTrail logs through the ingest handler, for a
# typical account (about 600 records per 5-minute file) and a busy one (about 20,000), with
# the real adapters against moto. Prints and keeps (OUT/ingest-*.json) the per-file requests,
# DynamoDB units (and the size model's, which bench-org uses, on the same files), handler time
# (in memory, and CPU time with the real adapters) and the modelled cost per 100,000 events.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench-out}
mkdir -p "$OUT"
cargo build --release -q -p trailsight-trafficgen -p trailsight-bench-ingest
BIN=${CARGO_TARGET_DIR:-target}/release
for spec in "typical:1.0" "busy:${BUSY_SCALE:-33}"; do
  label=${spec%%:*}; scale=${spec##*:}
  trail="$OUT/ingest-trail-$label"
  if [ ! -f "$trail/.done" ]; then
    rm -rf "$trail"
    "$BIN/trafficgen" generate --out "$trail" --seed 11 --days 1 --rate-scale "$scale" --no-anomalies >/dev/null
    touch "$trail/.done"
  fi
  bash scripts/with-moto.sh "$BIN/bench-ingest" --trail "$trail" --label "$label" --json "$OUT/ingest-$label.json"
done
python3 - "$OUT" <<'PY'
import json, sys
for label in ("typical", "busy"):
    r = json.load(open(f"{sys.argv[1]}/ingest-{label}.json"))
    p = r["per_file"]
    c = r["handler_cpu_ms_on_moto"]
    print(f"{label:8} {r['records_per_file']:>8.0f} records/file  handler p50 {r['handler_ms']['p50']:.1f} ms p95 {r['handler_ms']['p95']:.1f} ms"
          f" (CPU with the real adapters: p50 {c['p50']:.1f} ms, max {c['max']:.1f} ms)"
          f"  DynamoDB {p['dynamodb_requests']:.0f} req ({p['ledger_reads']:.2f} ledger reads), {p['dynamodb_write_units']:.0f} WRU, {p['dynamodb_read_units']:.0f} RRU per file"
          f" (size model: {r['size_model_per_file']['dynamodb_write_units']:.1f} WRU, {r['size_model_per_file']['dynamodb_read_units']:.1f} RRU)"
          f"  ${r['cost_usd_per_100k_events']:.5f} per 100k events  init {r['init_ms']:.1f} ms")
PY
