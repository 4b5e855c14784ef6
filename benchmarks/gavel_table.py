"""Benchmark: Gavel's continuous-single experiment, our policies beside Gavel's published runs.

Protocol (../shared/data/README.md): the exact job lists Gavel's simulator generates (seed 0,
2.8 and 4.4 jobs/h), 36 V100 + 36 P100 + 36 K80, 360-s rounds, the run ends when jobs
4000-4999 have all completed; the metric is their average JCT. Gavel's own numbers are the
means of its per-job results in ../shared/data/results/gavel.

Run: ``.venv/bin/python benchmarks/gavel_table.py`` (about a minute; ``--json`` for JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

import gpufleet.scheduling.policies  # noqa: F401 - registers the policies
from gpufleet.catalog.sources import find_shared_data
from gpufleet.scheduling.core import make_policy
from gpufleet.sim.rounds_sim import Workload, simulate
from gpufleet.sim.traces.gavel import (
    GPU_TYPES,
    read_gavel_jcts,
    read_generated_jobs,
    read_throughputs,
    throughput_matrix,
)

RATES = ("2.8", "4.4")
WINDOW = range(4000, 5000)
# ours -> Gavel's policy name in results/gavel (None: no Gavel counterpart)
POLICIES = {
    "max-min-fairness": "max_min_fairness",
    "fifo": "fifo",
    "fifo-perf": "fifo_perf",
    "gavel-mmf": "max_min_fairness_perf",
    "gavel-min-jct": None,
    "min-jct": None,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--policies", nargs="+", default=list(POLICIES))
    args = parser.parse_args()
    data = find_shared_data(os.environ, Path.cwd())
    if data is None:
        raise SystemExit("needs ../shared/data (or $GPUFLEET_DATA)")
    gavel = data / "traces" / "gavel"
    table = read_throughputs(gavel / "simulation_throughputs.json")
    rows = []
    for rate in RATES:
        jobs = read_generated_jobs(
            gavel / "generated" / f"continuous_single_seed0_{rate}jobs_per_h.tsv"
        )
        workload = Workload(
            jobs.job_id,
            jobs.scale,
            throughput_matrix(jobs, table),
            jobs.total_steps,
            jobs.arrival_s,
        )
        for name in args.policies:
            result = simulate(
                workload,
                make_policy(name),
                gpu_types=GPU_TYPES,
                capacity=[36, 36, 36],
                round_s=360.0,
                measure=WINDOW,
            )
            ours = result.mean_jct_h(WINDOW)
            theirs = None
            if POLICIES.get(name):
                path = (
                    data
                    / "results"
                    / "gavel"
                    / f"jct_{POLICIES[name]}_{rate}jobs_per_h_s4000_e5000_seed0.tsv"
                )
                theirs = float(np.mean(list(read_gavel_jcts(path).values()))) / 3600
            rows.append(
                {
                    "rate": rate,
                    "policy": name,
                    "ours_h": ours,
                    "gavel_h": theirs,
                    "wall_s": result.wall_s,
                    "rounds": result.rounds,
                    "jobs_arrived": int(np.searchsorted(jobs.arrival_s, result.end_s, "right")),
                }
            )
            print(
                f"{rate} {name:18s} {ours:6.2f} h  gavel "
                f"{'-' if theirs is None else f'{theirs:.2f}'}"
                f"  {result.wall_s:5.1f} s",
                flush=True,
                file=sys.stderr if args.json else sys.stdout,
            )
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
