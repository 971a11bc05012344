#!/usr/bin/env bash
# Prints the folder of the typical account's simulated day (288 five-minute files, seed 11, no
# anomalies), generating it under OUT with the trafficgen binary TRAFFICGEN the first time.
# Usage: scripts/typical-trail.sh OUT TRAFFICGEN
set -euo pipefail
OUT=$1
TRAFFICGEN=$2
trail="$OUT/ingest-trail-typical"
if [ ! -f "$trail/.done" ]; then
  rm -rf "$trail"
  "$TRAFFICGEN" generate --out "$trail" --seed 11 --days 1 --no-anomalies >/dev/null
  touch "$trail/.done"
fi
echo "$trail"
