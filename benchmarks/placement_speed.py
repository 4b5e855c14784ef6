"""Benchmark: one full FGD-protocol run (about 10.8k placements on 1,213 nodes) per strategy.

Run: ``.venv/bin/python benchmarks/placement_speed.py [--policy fgd,best-fit] [--seeds 42-44]``.
The first run on a machine also compiles the numba kernels (cached on disk afterwards); this
script does one untimed warm-up run first and reports it separately. Figures go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from gpufleet.catalog.sources import find_shared_data
from gpufleet.scheduling.placement import TargetWorkload
from gpufleet.sim.placement_bench import run_once
from gpufleet.sim.traces.openb import load_workload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--policy", default="random,dotprod,gpu-clustering,gpu-packing,best-fit,fgd"
    )
    parser.add_argument("--seeds", default="42-44")
    parser.add_argument("--workload", default="default")
    args = parser.parse_args()
    data = find_shared_data(os.environ, Path.cwd())
    if data is None:
        raise SystemExit("shared data not found: set GPUFLEET_DATA")
    lo, _, hi = args.seeds.partition("-")
    seeds = list(range(int(lo), int(hi or lo) + 1))
    workload = load_workload(data / "traces" / "openb", args.workload)
    target = TargetWorkload.from_requests(workload.pods)
    nodes = len(workload.nodes)
    for policy in args.policy.split(","):
        start = time.perf_counter()
        run_once(workload, policy, seeds[0], target=target)
        warm = time.perf_counter() - start
        runs = [run_once(workload, policy, s, target=target) for s in seeds]
        wall = statistics.median(r.wall_s for r in runs)
        placing = statistics.median(r.placement_s for r in runs)
        pods = statistics.median(r.pods for r in runs)
        rate = pods / placing
        print(
            f"{policy:15s} {nodes} nodes, {pods:,.0f} pods: run {wall:.2f} s "
            f"(placing {placing:.2f} s, {rate:,.0f} placements/s; with fragmentation tracking); "
            f"first run incl. warm-up {warm:.2f} s"
        )


if __name__ == "__main__":
    main()
