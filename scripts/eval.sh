#!/usr/bin/env bash
# make eval: detection quality on labelled synthetic traffic. For each seed, generates 10 days
# (the first 7 are history), replays them through trailsight and scores the insight Starts
# against the labels: recall, precision, false Starts per day (whole run), median delay.
# Tuning seeds were used while developing the model; held-out seeds never were.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench-out/eval}
DAYS=${EVAL_DAYS:-10}
TUNING=${EVAL_TUNING:-"1 2 3 1001 1002 1003"}
HELDOUT=${EVAL_HELDOUT:-"2001 2002 2003"}
mkdir -p "$OUT"
cargo build --release -q -p trailsight-cli -p trailsight-trafficgen
BIN=${CARGO_TARGET_DIR:-target}/release
run() {
  local set=$1 seed=$2
  local dir="$OUT/seed-$seed"
  if [ ! -f "$dir/.done" ]; then
    rm -rf "$dir"
    "$BIN/trafficgen" generate --out "$dir/logs" --seed "$seed" --days "$DAYS" --labels "$dir/labels.json" 2>/dev/null
    touch "$dir/.done"
  fi
  "$BIN/trailsight" replay "$dir/logs" --output "$dir/events.jsonl" 2>"$dir/replay.err" || true
  "$BIN/trafficgen" score --labels "$dir/labels.json" --events "$dir/events.jsonl" --json 2>"$dir/score.err" \
    | python3 -c "import json,sys; d=json.load(sys.stdin); d['set']='$set'; d['seed']=$seed; print(json.dumps(d))"
}
{
  for s in $TUNING; do run tuning "$s"; done
  for s in $HELDOUT; do run held-out "$s"; done
} | tee "$OUT/scores.jsonl" | python3 scripts/eval_table.py
