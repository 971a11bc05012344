#!/usr/bin/env bash
# make report-check: the HTML report in a real browser (headless Debian chromium, driven by
# playwright). A replay of the bundled sample with --report and --store, then a 500-insight
# report made from it (cli/examples/report_many.rs); each opened by tests/scripts/check_report.py
# (no console error, every insight charted, tables sort and filter), with its load time and a
# screenshot in OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench-out/report}
SAMPLES=${SAMPLES:-tests/fixtures/grycap}
MANY=${REPORT_INSIGHTS:-500}
PY=.venv/bin/python
[ -x "$PY" ] || { echo "report-check: run 'bash scripts/test-env.sh' first (make test-env)"; exit 1; }
cargo build -q -p trailsight-cli --bin trailsight --example report_many
BIN=${CARGO_TARGET_DIR:-target}/debug
rm -rf "$OUT" && mkdir -p "$OUT"
"$BIN/trailsight" replay "$SAMPLES" --format json --store "$OUT/store" --report "$OUT/sample.html" \
  --output "$OUT/events.jsonl"
STARTS=$("$PY" -c 'import json,sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["detail"].get("insightDetails",{}).get("state")=="Start"))' "$OUT/events.jsonl")
"$PY" tests/scripts/check_report.py "$OUT/sample.html" --insights "$STARTS" --screenshot "$OUT/sample.png"
"$BIN/examples/report_many" "$OUT/events.jsonl" "$OUT/store" "$OUT/many.html" "$MANY"
"$PY" tests/scripts/check_report.py "$OUT/many.html" --insights "$MANY" --screenshot "$OUT/many.png"
