#!/usr/bin/env python3
"""Detection's share of the replay time, robust to a noisy machine (make bench).

Runs `trailsight replay CORPUS --stages rules` and the replay with all stages back to back,
N times (the order alternating from pair to pair), and prints the median of the N pairs'
ratios with its quartiles, by wall time and by CPU time (user + system). A pair runs within a
few seconds, so slow phases of a shared machine hit both halves alike; the best of three of
each, taken minutes apart, can differ by several percent from run to run.

usage: detection_pairs.py BIN CORPUS [PAIRS]
"""
import resource
import statistics
import subprocess
import sys
import time


def replay(binary: str, corpus: str, stages: str) -> tuple[float, float]:
    """Wall and CPU seconds of one replay."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([binary, "replay", corpus, "--stages", stages],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def summary(name: str, ratios: list[float]) -> str:
    median = statistics.median(ratios)
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else (median, median, median)
    return (f"  + detection, {len(ratios)} back-to-back pairs, {name}: median +{median * 100:.1f}% "
            f"(quartiles +{q1 * 100:.1f}% .. +{q3 * 100:.1f}%, target <= 10%)")


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit("usage: detection_pairs.py BIN CORPUS [PAIRS]")
    binary, corpus = sys.argv[1], sys.argv[2]
    pairs = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    wall, cpu = [], []
    for i in range(pairs):
        order = ("rules", "all") if i % 2 == 0 else ("all", "rules")
        runs = {stages: replay(binary, corpus, stages) for stages in order}
        wall.append(runs["all"][0] / runs["rules"][0] - 1)
        cpu.append(runs["all"][1] / runs["rules"][1] - 1)
    print(summary("wall time", wall))
    print(summary("CPU time", cpu))


if __name__ == "__main__":
    main()
