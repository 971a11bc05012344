#!/usr/bin/env python3
"""Prints make eval's table from the per-seed score lines on stdin; exits 1 if a target is missed."""
import json
import sys

rows = [json.loads(line) for line in sys.stdin if line.strip()]
print(f"{'set':<9} {'seed':>5} {'recall':>7} {'precision':>9} {'false/day':>9} {'median delay (min)':>18}")
ok = True
for r in rows:
    delay = r.get("median_delay_minutes")
    print(f"{r['set']:<9} {r['seed']:>5} {r['recall']:>7.3f} {r['precision']:>9.3f} {r['false_starts_per_day']:>9.3f} {str(delay):>18}")
    ok &= r["recall"] >= 0.95 and r["false_starts_per_day"] <= 0.3
print("targets (recall >= 0.95 and <= 0.3 false Starts per day, on every seed):", "met" if ok else "NOT met")
sys.exit(0 if ok else 1)
