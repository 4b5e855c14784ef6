"""Benchmark: the heterogeneity-aware max-min allocation (``gavel-mmf``'s LP) for many jobs.

Jobs drawn (seeded) from Gavel's continuous-single job list, 36 V100 + 36 P100 + 36 K80; best of
three solves per size. Gavel's own LP (cvxpy + ECOS) took about 0.12 s at 2,048 jobs and 0.69 s
at 8,192 on this kind of machine (issue 5).

Run: ``.venv/bin/python benchmarks/allocation_lp.py``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from gpufleet.catalog.sources import find_shared_data
from gpufleet.scheduling.core import NOT_RUNNING, Context
from gpufleet.scheduling.policies.gavel_policies import max_min_lp
from gpufleet.sim.traces.gavel import (
    GPU_TYPES,
    read_generated_jobs,
    read_throughputs,
    throughput_matrix,
)


def main() -> None:
    data = find_shared_data(os.environ, Path.cwd())
    if data is None:
        raise SystemExit("needs ../shared/data (or $GPUFLEET_DATA)")
    gavel = data / "traces" / "gavel"
    jobs = read_generated_jobs(gavel / "generated" / "continuous_single_seed0_2.8jobs_per_h.tsv")
    rates = throughput_matrix(jobs, read_throughputs(gavel / "simulation_throughputs.json"))
    for n in (256, 512, 1024, 2048, 4096, 8192):
        pick = np.random.default_rng(0).integers(0, len(jobs), n)
        context = Context(
            now=0.0, round_s=360.0, gpu_types=GPU_TYPES, capacity=np.array([36, 36, 36]),
            job_id=np.arange(n), gpus=np.ones(n, dtype=np.int64), throughput=rates[pick],
            remaining_steps=jobs.total_steps[pick], arrival_s=np.zeros(n),
            attained_gpu_s=np.zeros(n), time_on_type=np.zeros((n, 3)),
            current_type=np.full(n, NOT_RUNNING),
        )  # fmt: skip
        times = []
        for _ in range(3):
            started = time.perf_counter()
            allocation = max_min_lp(context)
            times.append(time.perf_counter() - started)
        used = allocation.sum(axis=0)
        print(
            f"{n:5d} jobs: {min(times):.3f} s  (GPUs allocated per type {used.round(1).tolist()})"
        )


if __name__ == "__main__":
    main()
