"""Run the FGD placement experiment over workloads x policies x seeds, in parallel processes.

Each worker process loads a workload once and reuses it for all its runs. Results come back in
the order they finish; ``progress`` is called after each one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import cache
from pathlib import Path

from gpufleet.scheduling.placement import TargetWorkload
from gpufleet.sim.placement_bench import RunResult, run_once
from gpufleet.sim.traces.openb import OpenbWorkload, load_workload


@cache
def _workload(trace_dir: str, name: str) -> tuple[OpenbWorkload, TargetWorkload]:
    workload = load_workload(Path(trace_dir), name)
    return workload, TargetWorkload.from_requests(workload.pods)


def _run(trace_dir: str, name: str, policy: str, seed: int) -> RunResult:
    workload, target = _workload(trace_dir, name)
    return run_once(workload, policy, seed, target=target)


def run_sweep(
    trace_dir: Path,
    workloads: Sequence[str],
    policies: Sequence[str],
    seeds: Sequence[int],
    *,
    jobs: int = 1,
    progress: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    tasks = [(str(trace_dir), w, p, s) for w in workloads for p in policies for s in seeds]
    results: list[RunResult] = []
    if jobs <= 1:
        for task in tasks:
            results.append(_run(*task))
            if progress:
                progress(results[-1])
        return results
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_run, *task) for task in tasks]
        try:
            for future in as_completed(futures):
                results.append(future.result())
                if progress:
                    progress(results[-1])
        except BaseException:
            # Stop at the first failure (or Ctrl-C) instead of finishing every queued run.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return results
