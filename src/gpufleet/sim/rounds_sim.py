"""A round-based cluster simulator: drives ``scheduling.core.decide`` on a virtual clock.

The same ``decide`` the server's scheduler loop calls; here the clock is the event kernel's
(``engine.py``) and the cluster is a count of healthy GPUs per type. Semantics follow Gavel's
simulator (``docs/gavel-mechanism.md``), so policies can be compared with its published runs:

* Jobs arrive at their arrival time and join at the next round boundary (arrivals at the
  boundary itself join it).
* At each boundary the policy assigns jobs to GPU types for the round. A job assigned to type
  ``w`` runs ``min(floor(T[j, w] * round_s), remaining)`` steps, taking ``steps / T[j, w]``
  seconds; the round ends when its slowest job ends (so rounds last just under ``round_s``).
  A job that finishes mid-round completes then (its completion time), but its GPUs are free
  only at the round's end.
* A job that starts, or moves to another type, pays ``restart_overhead_s`` (checkpoint restore)
  out of its round first: 0 in Gavel's experiments.
* With nothing to run, the clock jumps to the next arrival (or, if jobs wait that the policy
  will not run yet, to the next round, whichever comes first).
* GPU failures (``Failure``): the type's capacity drops for ``repair_s``; jobs running on the
  failed GPUs lose the round's progress and are requeued.
* The run ends when every job of ``measure`` has completed (or every job, when it is empty).

Deterministic for a seed: the kernel orders ties by scheduling order, and the policies draw only
from seeded generators.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from gpufleet.scheduling.core import NOT_RUNNING, Context, Policy, decide_round
from gpufleet.sim.engine import EventLoop

Int = NDArray[np.int64]
Float = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Workload:
    """The jobs of a run as parallel arrays, in arrival order (ids ascending)."""

    job_id: Int
    gpus: Int
    throughput: Float
    """(N, K) steps per second of each job on each GPU type."""
    total_steps: Float
    arrival_s: Float
    project: Int | None = None
    """(N,) index into ``projects`` (all 0 when ``None``)."""
    projects: tuple[str, ...] = ("default",)
    priority: Int | None = None
    """(N,) larger runs first under priority policies (all 0 when ``None``)."""
    deadline_s: Float | None = None
    """(N,) absolute deadlines (NaN: none)."""
    job_type: tuple[str, ...] = ()
    cpu_milli: Float | None = None
    """(N,) CPU held while running (fair share counts it when the cluster's CPU is given)."""
    memory_mib: Float | None = None

    def __len__(self) -> int:
        return int(self.job_id.size)

    def column(self, name: str) -> NDArray[np.generic]:
        """``project``, ``priority`` or ``deadline_s`` with their defaults filled in."""
        value = getattr(self, name)
        if value is not None:
            return np.asarray(value)
        if name == "deadline_s":
            return np.full(len(self), np.nan)
        if name in {"cpu_milli", "memory_mib"}:
            return np.zeros(len(self))
        return np.zeros(len(self), dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Failure:
    at_s: float
    gpu_type: int
    gpus: int
    repair_s: float


@dataclass(frozen=True, slots=True)
class _Arrival:
    index: int


@dataclass(frozen=True, slots=True)
class _Boundary:
    token: int
    """Only the latest scheduled boundary counts (an idle cluster's look-again may be overtaken
    by an arrival)."""


@dataclass(frozen=True, slots=True)
class _Repair:
    gpu_type: int
    gpus: int


@dataclass(slots=True)
class RunResult:
    jct_s: Float
    """(N,) completion minus arrival; NaN for jobs that did not complete."""
    first_start_s: Float
    """(N,) when each job first ran (NaN if never)."""
    completion_s: Float
    preemptions: Int
    """(N,) times a running job was stopped or moved by the policy."""
    rounds: int
    end_s: float
    wall_s: float
    busy_gpu_s: Float
    """(K,) GPU-seconds run on each type."""
    utilisation: list[tuple[float, float]] = field(default_factory=list)
    """(time, share of healthy GPUs busy from then on): each round's start, and a 0 when the
    cluster goes idle."""
    attained_gpu_s: Float = field(default_factory=lambda: np.zeros(0))
    """(N,) GPU-seconds each job ran."""
    time_on_type: Float = field(default_factory=lambda: np.zeros((0, 0)))
    """(N, K) seconds each job ran on each GPU type."""

    def mean_jct_h(self, ids: Sequence[int] | None = None) -> float:
        jct = self.jct_s if ids is None else self.jct_s[np.asarray(ids)]
        return float(np.nanmean(jct)) / 3600.0


class _Run:
    """One simulation: the state and the event handlers."""

    def __init__(
        self,
        workload: Workload,
        policy: Policy,
        config: _Config,
    ) -> None:
        n, k = len(workload), len(config.gpu_types)
        self.w, self.policy, self.cfg, self.n, self.k = workload, policy, config, n, k
        self.remaining = workload.total_steps.astype(np.float64).copy()
        self.time_on_type = np.zeros((n, k))
        self.attained = np.zeros(n)
        self.current = np.full(n, NOT_RUNNING, dtype=np.int64)
        self.active: list[int] = []
        self.busy = np.zeros(k)
        self.capacity = np.asarray(config.capacity, dtype=np.int64).copy()
        self.round_steps = np.zeros(n)
        self.round_time = np.zeros(n)
        self.round_start = 0.0
        self.running_round = False
        self.idle = True
        self.jct = np.full(n, np.nan)
        self.completion = np.full(n, np.nan)
        self.first_start = np.full(n, np.nan)
        self.preemptions = np.zeros(n, dtype=np.int64)
        self.utilisation: list[tuple[float, float]] = []
        self.waiting = set(range(n)) if not config.measure else {int(i) for i in config.measure}
        self.rounds = 0
        self.token = 0
        self.priority = np.asarray(workload.column("priority"), dtype=np.int64)
        self.project = np.asarray(workload.column("project"), dtype=np.int64)
        self.deadline = np.asarray(workload.column("deadline_s"), dtype=np.float64)
        self.cpu = np.asarray(workload.column("cpu_milli"), dtype=np.float64)
        self.memory = np.asarray(workload.column("memory_mib"), dtype=np.float64)

    def schedule_boundary(self, lp: EventLoop, at: float) -> None:
        self.token += 1
        lp.schedule(at, _Boundary(self.token), priority=1)

    def boundary(self, lp: EventLoop, event: _Boundary) -> None:
        if event.token != self.token:
            return
        if self.running_round:
            self.finish_round()
        if not self.waiting:
            return
        ids = np.array(self.active, dtype=np.int64)
        if ids.size == 0:
            self.idle = True
            self.utilisation.append((lp.now, 0.0))
            return
        w, cfg = self.w, self.cfg
        context = Context(
            now=lp.now,
            round_s=cfg.round_s,
            gpu_types=cfg.gpu_types,
            capacity=self.capacity.copy(),
            job_id=w.job_id[ids],
            gpus=w.gpus[ids],
            throughput=w.throughput[ids],
            remaining_steps=self.remaining[ids],
            arrival_s=w.arrival_s[ids],
            attained_gpu_s=self.attained[ids],
            time_on_type=self.time_on_type[ids],
            current_type=self.current[ids],
            busy_s=self.busy.copy(),
            priority=self.priority[ids],
            project=self.project[ids],
            projects=w.projects,
            deadline_s=self.deadline[ids],
            quota=cfg.quota,
            weight=cfg.weight,
            cpu_milli=self.cpu[ids],
            memory_mib=self.memory[ids],
            cpu_capacity_milli=cfg.cpu_capacity_milli,
            memory_capacity_mib=cfg.memory_capacity_mib,
        )
        decision = decide_round(self.policy, context)
        moved = np.zeros(self.n, dtype=np.bool_)
        self.preemptions[ids[decision.preempted]] += 1
        moved[ids[decision.started]] = True
        self.current[ids] = decision.target
        running = ids[self.current[ids] != NOT_RUNNING]
        self.rounds += 1
        if cfg.progress is not None and self.rounds % 500 == 0:
            total = len(cfg.measure) or self.n
            cfg.progress(total - len(self.waiting), total)
        if running.size == 0:
            # Jobs wait but the policy runs none now (e.g. a stale allocation): look again in a
            # round, or at the next arrival if it comes first. (Gavel only waits for the next
            # arrival; its job generator never runs dry, a finite trace does.)
            self.idle = True
            self.utilisation.append((lp.now, 0.0))
            self.schedule_boundary(lp, lp.now + cfg.round_s)
            return
        self.idle = False
        self.start_round(lp, running, moved[running])

    def start_round(self, lp: EventLoop, running: Int, moved: NDArray[np.bool_]) -> None:
        w, overhead, round_s = self.w, self.cfg.restart_overhead_s, self.cfg.round_s
        rates = w.throughput[running, self.current[running]]
        usable = np.where(moved, max(round_s - overhead, 0.0), round_s)
        # At least one step (or what is left): a job slower than a step a round still moves.
        steps = np.minimum(np.maximum(np.floor(rates * usable), 1.0), self.remaining[running])
        elapsed = steps / rates + np.where(moved, overhead, 0.0)
        self.round_steps[:] = 0.0
        self.round_time[:] = 0.0
        self.round_steps[running] = steps
        self.round_time[running] = elapsed
        fresh = running[np.isnan(self.first_start[running])]
        self.first_start[fresh] = lp.now
        self.round_start = lp.now
        self.running_round = True
        healthy = float(self.capacity.sum())
        used = float(w.gpus[running].sum())
        self.utilisation.append((lp.now, used / healthy if healthy else 0.0))
        self.schedule_boundary(lp, lp.now + float(elapsed.max()))

    def finish_round(self) -> None:
        w = self.w
        self.running_round = False
        ran = np.flatnonzero(self.round_time > 0)
        types_ran = self.current[ran]
        self.remaining[ran] -= self.round_steps[ran]
        self.time_on_type[ran, types_ran] += self.round_time[ran]
        self.attained[ran] += self.round_time[ran] * w.gpus[ran]
        self.busy += np.bincount(
            types_ran, weights=self.round_time[ran] * w.gpus[ran], minlength=self.k
        )
        done = ran[self.remaining[ran] <= 1e-9]
        if done.size:
            self.completion[done] = self.round_start + self.round_time[done]
            self.jct[done] = self.completion[done] - w.arrival_s[done]
            self.current[done] = NOT_RUNNING
            finished = set(done.tolist())
            self.active = [i for i in self.active if i not in finished]
            self.waiting.difference_update(finished)
        self.round_steps[:] = 0.0
        self.round_time[:] = 0.0

    def wake(self, lp: EventLoop) -> None:
        """An idle cluster looks again now (after an arrival or a repair)."""
        if self.idle and not self.running_round:
            self.idle = False
            self.schedule_boundary(lp, lp.now)

    def arrival(self, lp: EventLoop, event: _Arrival) -> None:
        self.active.append(event.index)
        self.wake(lp)

    def failure(self, lp: EventLoop, event: Failure) -> None:
        kind = event.gpu_type
        lost = min(event.gpus, int(self.capacity[kind]))
        self.capacity[kind] -= lost
        # Jobs that already finished their work this round keep it; the others may lose theirs.
        done_by = self.round_start + self.round_time
        on_type = [
            i for i in self.active if self.current[i] == kind and not (
                self.running_round and self.round_time[i] > 0 and done_by[i] <= lp.now
                and self.round_steps[i] >= self.remaining[i]
            )
        ]  # fmt: skip
        used = int(self.w.gpus[on_type].sum()) if on_type else 0
        for i in reversed(on_type):  # the newest jobs on the type give way
            if used <= self.capacity[kind]:
                break
            used -= int(self.w.gpus[i])
            self.round_steps[i] = 0.0  # the round's progress is lost
            self.round_time[i] = 0.0
            self.current[i] = NOT_RUNNING
            self.preemptions[i] += 1
        lp.schedule(lp.now + event.repair_s, _Repair(kind, lost))

    def repair(self, lp: EventLoop, event: _Repair) -> None:
        self.capacity[event.gpu_type] += event.gpus
        self.wake(lp)


@dataclass(frozen=True, slots=True)
class _Config:
    gpu_types: tuple[str, ...]
    capacity: tuple[int, ...]
    round_s: float
    measure: tuple[int, ...]
    restart_overhead_s: float
    progress: Callable[[int, int], None] | None
    quota: Mapping[str, Int]
    weight: Mapping[str, float]
    cpu_capacity_milli: float
    memory_capacity_mib: float


def simulate(
    workload: Workload,
    policy: Policy,
    *,
    gpu_types: Sequence[str],
    capacity: Sequence[int],
    round_s: float = 360.0,
    measure: Sequence[int] = (),
    restart_overhead_s: float = 0.0,
    failures: Sequence[Failure] = (),
    progress: Callable[[int, int], None] | None = None,
    quota: Mapping[str, Sequence[int]] | None = None,
    weight: Mapping[str, float] | None = None,
    cpu_capacity_milli: float = 0.0,
    memory_capacity_mib: float = 0.0,
) -> RunResult:
    """Run ``workload`` under ``policy`` (see the module docstring for the semantics)."""
    started = time.perf_counter()
    n, k = len(workload), len(gpu_types)
    if workload.throughput.shape != (n, k):
        msg = f"throughput has shape {workload.throughput.shape}, expected ({n}, {k})"
        raise ValueError(msg)
    if len(capacity) != k:
        msg = f"{len(capacity)} capacities for {k} GPU types"
        raise ValueError(msg)
    config = _Config(
        tuple(gpu_types), tuple(int(c) for c in capacity), round_s,
        tuple(int(i) for i in measure), restart_overhead_s, progress,
        {p: np.asarray(q, dtype=np.int64) for p, q in (quota or {}).items()}, dict(weight or {}),
        cpu_capacity_milli, memory_capacity_mib,
    )  # fmt: skip
    _check_inputs(workload, config)
    policy.claim()
    run = _Run(workload, policy, config)
    loop = EventLoop()
    loop.on(_Boundary, run.boundary)
    loop.on(_Arrival, run.arrival)
    loop.on(Failure, run.failure)
    loop.on(_Repair, run.repair)
    for i, at in enumerate(workload.arrival_s.tolist()):
        loop.schedule(at, _Arrival(i))
    for f in failures:
        loop.schedule(f.at_s, f)
    loop.run(stop=lambda: not run.waiting)
    return RunResult(
        jct_s=run.jct,
        first_start_s=run.first_start,
        completion_s=run.completion,
        preemptions=run.preemptions,
        rounds=run.rounds,
        end_s=loop.now,
        wall_s=time.perf_counter() - started,
        busy_gpu_s=run.busy,
        utilisation=run.utilisation,
        attained_gpu_s=run.attained,
        time_on_type=run.time_on_type,
    )


def _check_inputs(workload: Workload, config: _Config) -> None:
    """Finite arrivals and steps, measured rows that exist, and every job able to fit
    somewhere: a type it can run on with GPUs for its whole gang."""
    if not (np.isfinite(workload.arrival_s).all() and np.isfinite(workload.total_steps).all()):
        msg = "arrival times and total steps must be finite numbers"
        raise ValueError(msg)
    if (workload.total_steps <= 0).any():
        msg = "every job needs total_steps > 0"
        raise ValueError(msg)
    bad = [m for m in config.measure if not 0 <= m < len(workload)]
    if bad:
        msg = f"measured rows {bad[:5]} are not in the workload of {len(workload)} jobs"
        raise ValueError(msg)
    capacity = np.asarray(config.capacity)
    fits = (workload.throughput > 0) & (workload.gpus[:, None] <= capacity[None, :])
    stuck = np.flatnonzero(~fits.any(axis=1))
    if stuck.size:
        shown = ", ".join(str(int(workload.job_id[i])) for i in stuck[:5])
        more = f" and {stuck.size - 5} more" if stuck.size > 5 else ""
        msg = (
            f"{stuck.size} job(s) can run on no GPU type of this cluster (no throughput there, "
            f"or a gang larger than the type's GPUs): job ids {shown}{more}"
        )
        raise ValueError(msg)


def nan_mean(values: Float) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan
