#!/usr/bin/env python3
"""Detection's share of the replay time, robust to a noisy machine (make bench).

Runs `trailsight replay CORPUS --stages rules` and then with all stages, back to back, N
times, and prints the median of the N pairs' ratios with its quartiles. A pair runs within
a few seconds, so slow phases of a shared machine hit both halves alike; the best of three
of each, taken minutes apart, can differ by several percent from run to run.

usage: detection_pairs.py BIN CORPUS [PAIRS]
"""
import statistics
import subprocess
import sys
import time


def replay(binary: str, corpus: str, stages: str) -> float:
    started = time.perf_counter()
    subprocess.run([binary, "replay", corpus, "--stages", stages],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> None:
    binary, corpus = sys.argv[1], sys.argv[2]
    pairs = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    ratios = []
    for _ in range(pairs):
        rules = replay(binary, corpus, "rules")
        full = replay(binary, corpus, "all")
        ratios.append(full / rules - 1)
    median = statistics.median(ratios)
    q1, _, q3 = statistics.quantiles(ratios, n=4) if pairs >= 2 else (median, median, median)
    print(f"  + detection, {pairs} back-to-back pairs: median +{median * 100:.1f}% "
          f"(quartiles +{q1 * 100:.1f}% .. +{q3 * 100:.1f}%, target <= 10%)")


if __name__ == "__main__":
    main()
