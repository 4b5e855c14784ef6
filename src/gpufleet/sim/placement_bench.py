"""The FGD paper's placement experiment, run on any registered placement strategy.

Protocol (``../shared/data/results/fgd/PROTOCOL.md``; Weng et al., USENIX ATC'23):

1. Pods sorted by name, then shuffled (seeded).
2. Tune up: draw pods uniformly with replacement from the name-sorted original list and append
   them, until adding the next draw's *per-GPU* milli would push the arrived GPU demand past
   130% of cluster capacity (tune down, removing random pods, if the workload already exceeds it).
3. Node tie-break priority: a seeded random permutation of the nodes (lower wins).
4. Pods arrive one by one, never depart. The arrived demand grows by ``num_gpu * gpu_milli``
   before each attempt (failed pods count as arrived); a pod that cannot be placed is dropped.
5. After every pod: allocated GPU milli and cluster fragmentation ``sum_n F(n)`` (``target.py``,
   with the workload's target as FGD's).
6. Curves: for each arrived-demand percentage X = 0..130 (rounded to a whole percent), the mean
   allocation ratio of the events at X (the events at X-1..X+1 if none), rounded to 0.01.

Randomness comes from NumPy generators seeded with the run's seed, not from Go's ``math/rand``
as in the authors' simulator, so single seeds differ from theirs; 10-seed means are comparable
(the protocol notes say so too).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gpufleet.scheduling.placement import (
    ClusterState,
    PlacementRequest,
    StrategyContext,
    TargetWorkload,
    create,
    fragmentation,
)
from gpufleet.scheduling.placement.kernels import node_fragmentation
from gpufleet.scheduling.placement.request import MILLI_PER_GPU
from gpufleet.sim.traces.openb import OpenbWorkload

TUNE_RATIO = 1.3
PERCENTS = np.arange(0, 131)


@dataclass(frozen=True, slots=True)
class RunResult:
    workload: str
    policy: str
    seed: int
    allocation: NDArray[np.float64]
    """GPU allocation ratio (%) at arrived demand 0..130 %."""
    fragmentation: NDArray[np.float64]
    """Fragmented GPUs as % of all GPUs at arrived demand 0..130 % (NaN when not tracked)."""
    pods: int
    placed: int
    wall_s: float
    placement_s: float
    """Time spent choosing placements alone."""

    @property
    def allocation_at_130(self) -> float:
        return float(self.allocation[130])

    @property
    def fragmentation_at_130(self) -> float:
        return float(self.fragmentation[130])

    @property
    def placements_per_s(self) -> float:
        return self.pods / self.placement_s if self.placement_s else float("inf")


def arrivals(
    workload: OpenbWorkload, seed: int
) -> tuple[list[PlacementRequest], NDArray[np.int64]]:
    """The pod arrival order and the node priority of one seeded run (steps 1-3)."""
    capacity = sum(n.gpus for n in workload.nodes) * MILLI_PER_GPU
    if capacity == 0:
        msg = f"workload {workload.name!r}: the cluster has no GPUs"
        raise ValueError(msg)
    if not any(p.num_gpu for p in workload.pods):
        msg = f"workload {workload.name!r}: no pod asks for a GPU, so demand can never reach 130%"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    original = list(workload.pods)
    pods = [original[i] for i in rng.permutation(len(original))]
    target = TUNE_RATIO * capacity
    demand = sum(p.total_gpu_milli for p in pods)
    if demand < target:
        while True:
            pod = original[int(rng.integers(len(original)))]
            if demand + pod.gpu_milli > target:
                break
            demand += pod.total_gpu_milli
            pods.append(pod)
    else:
        while demand > target and pods:
            demand -= pods.pop(int(rng.integers(len(pods)))).total_gpu_milli
    priority = rng.permutation(len(workload.nodes)).astype(np.int64)
    return pods, priority


def bucket_curve(
    arrived_pct: NDArray[np.int64], values: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Mean of ``values`` per whole arrived-demand percentage 0..130 (neighbours if empty)."""
    out = np.full(PERCENTS.size, np.nan)
    sums = np.bincount(arrived_pct, weights=values, minlength=PERCENTS.size + 2)
    counts = np.bincount(arrived_pct, minlength=PERCENTS.size + 2)
    for x in PERCENTS:
        lo, hi = max(x - 1, 0), x + 1
        if counts[x]:
            out[x] = sums[x] / counts[x]
        elif counts[lo : hi + 1].sum():
            out[x] = sums[lo : hi + 1].sum() / counts[lo : hi + 1].sum()
    return np.round(out, 2)


def run_once(
    workload: OpenbWorkload,
    policy: str,
    seed: int,
    *,
    target: TargetWorkload | None = None,
    track_fragmentation: bool = True,
) -> RunResult:
    """One run of the protocol for one policy and seed."""
    started = time.perf_counter()
    target = target or TargetWorkload.from_requests(workload.pods)
    pods, priority = arrivals(workload, seed)
    state = ClusterState(workload.nodes, priority)
    strategy = create(policy, StrategyContext(seed=seed, target=target))
    total_gpus = int(state.gpu_count.sum())
    arrived = np.empty(len(pods), dtype=np.int64)
    used = np.empty(len(pods), dtype=np.int64)
    frag = np.full(len(pods), np.nan)
    allowed = target.allowed(state.models, state.model)
    node_frag = (
        fragmentation(target, state.gpu_free, state.cpu_free, allowed)
        if track_fragmentation
        else None
    )
    arrived_milli = used_milli = placed = 0
    placing = 0.0
    for i, pod in enumerate(pods):
        arrived_milli += pod.total_gpu_milli
        tick = time.perf_counter()
        placement = strategy.place(state, pod)
        placing += time.perf_counter() - tick
        if placement is not None:
            state.allocate(pod, placement)
            used_milli += pod.total_gpu_milli
            placed += 1
            if node_frag is not None:
                n = placement.node
                node_frag[n] = node_fragmentation(
                    state.gpu_free[n], int(state.cpu_free[n]), n, allowed,
                    target.gpu_milli, target.num_gpu, target.cpu_milli, target.popularity,
                )  # fmt: skip
        arrived[i], used[i] = arrived_milli, used_milli
        if node_frag is not None:
            frag[i] = node_frag.sum()
    arrived_pct = np.round(arrived / total_gpus / 10).astype(np.int64)
    allocation = bucket_curve(arrived_pct, np.round(used / total_gpus / 10, 2))
    fragmented = bucket_curve(arrived_pct, frag / 1000 / total_gpus * 100)
    return RunResult(
        workload=workload.name,
        policy=policy,
        seed=seed,
        allocation=allocation,
        fragmentation=fragmented,
        pods=len(pods),
        placed=placed,
        wall_s=time.perf_counter() - started,
        placement_s=placing,
    )


@dataclass(frozen=True, slots=True)
class Summary:
    workload: str
    policy: str
    runs: tuple[RunResult, ...]

    @property
    def allocation_mean(self) -> float:
        return float(np.mean([r.allocation_at_130 for r in self.runs]))

    @property
    def allocation_std(self) -> float:
        return float(np.std([r.allocation_at_130 for r in self.runs]))

    @property
    def fragmentation_mean(self) -> float:
        return float(np.mean([r.fragmentation_at_130 for r in self.runs]))

    @property
    def wall_s_mean(self) -> float:
        return float(np.mean([r.wall_s for r in self.runs]))

    @property
    def placements_per_s(self) -> float:
        return sum(r.pods for r in self.runs) / sum(r.placement_s for r in self.runs)

    @property
    def allocation_curve(self) -> NDArray[np.float64]:
        return np.asarray(np.mean([r.allocation for r in self.runs], axis=0))


def summarise(results: Sequence[RunResult]) -> list[Summary]:
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for r in results:
        groups.setdefault((r.workload, r.policy), []).append(r)
    return [Summary(w, p, tuple(sorted(rs, key=lambda r: r.seed))) for (w, p), rs in groups.items()]
