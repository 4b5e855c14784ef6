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
* With nothing to run, the clock jumps to the next arrival.
* GPU failures (``Failure``): the type's capacity drops for ``repair_s``; jobs running on the
  failed GPUs lose the round's progress and are requeued.
* The run ends when every job of ``measure`` has completed (or every job, when it is empty).

Deterministic for a seed: the kernel orders ties by scheduling order, and the policies draw only
from seeded generators.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from gpufleet.scheduling.core import NOT_RUNNING, Context, Policy, Preempt, Start, decide
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

    def __len__(self) -> int:
        return int(self.job_id.size)


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
    pass


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
    """(round start, share of healthy GPUs busy) per round."""

    def mean_jct_h(self, ids: Sequence[int] | None = None) -> float:
        jct = self.jct_s if ids is None else self.jct_s[np.asarray(ids)]
        return float(np.nanmean(jct)) / 3600.0


@dataclass(slots=True)
class _State:
    remaining: Float
    time_on_type: Float
    attained: Float
    current: Int
    active: list[int]
    busy: Float
    capacity: Int
    round_steps: Float
    round_time: Float
    round_start: float = 0.0
    running_round: bool = False
    idle: bool = True


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
) -> RunResult:
    """Run ``workload`` under ``policy`` (see the module docstring for the semantics)."""
    started = time.perf_counter()
    n, k = len(workload), len(gpu_types)
    if workload.throughput.shape != (n, k):
        msg = f"throughput has shape {workload.throughput.shape}, expected ({n}, {k})"
        raise ValueError(msg)
    st = _State(
        remaining=workload.total_steps.astype(np.float64).copy(),
        time_on_type=np.zeros((n, k)),
        attained=np.zeros(n),
        current=np.full(n, NOT_RUNNING, dtype=np.int64),
        active=[],
        busy=np.zeros(k),
        capacity=np.asarray(capacity, dtype=np.int64).copy(),
        round_steps=np.zeros(n),
        round_time=np.zeros(n),
    )
    jct = np.full(n, np.nan)
    completion = np.full(n, np.nan)
    first_start = np.full(n, np.nan)
    preemptions = np.zeros(n, dtype=np.int64)
    utilisation: list[tuple[float, float]] = []
    waiting = set(range(n)) if not measure else {int(i) for i in measure}
    rounds = 0
    loop = EventLoop()
    types = tuple(gpu_types)

    def boundary(lp: EventLoop, _: _Boundary) -> None:
        nonlocal rounds
        now = lp.now
        if st.running_round:
            _finish_round(now)
        if not waiting:
            return
        ids = np.array(st.active, dtype=np.int64)
        if ids.size == 0:
            st.idle = True
            return
        context = Context(
            now=now,
            round_s=round_s,
            gpu_types=types,
            capacity=st.capacity.copy(),
            job_id=workload.job_id[ids],
            gpus=workload.gpus[ids],
            throughput=workload.throughput[ids],
            remaining_steps=st.remaining[ids],
            arrival_s=workload.arrival_s[ids],
            attained_gpu_s=st.attained[ids],
            time_on_type=st.time_on_type[ids],
            current_type=st.current[ids],
            busy_s=st.busy.copy(),
        )
        moved = np.zeros(n, dtype=np.bool_)
        row_of = {
            int(j): int(i) for j, i in zip(workload.job_id[ids].tolist(), ids.tolist(), strict=True)
        }
        for action in decide(policy, context):
            i = row_of[action.job]
            if isinstance(action, Preempt):
                st.current[i] = NOT_RUNNING
                preemptions[i] += 1
            elif isinstance(action, Start):
                st.current[i] = action.gpu_type
                moved[i] = True
        running = ids[st.current[ids] != NOT_RUNNING]
        rounds += 1
        if progress is not None and rounds % 500 == 0:
            progress(n - len(waiting), n)
        if running.size == 0:
            st.idle = True
            return
        st.idle = False
        rates = workload.throughput[running, st.current[running]]
        usable = np.where(moved[running], max(round_s - restart_overhead_s, 0.0), round_s)
        steps = np.minimum(np.floor(rates * usable), st.remaining[running])
        elapsed = steps / rates + np.where(moved[running], restart_overhead_s, 0.0)
        st.round_steps[:] = 0.0
        st.round_time[:] = 0.0
        st.round_steps[running] = steps
        st.round_time[running] = elapsed
        fresh = running[np.isnan(first_start[running])]
        first_start[fresh] = now
        st.round_start = now
        st.running_round = True
        busy = np.bincount(st.current[running], weights=workload.gpus[running], minlength=k)
        healthy = float(st.capacity.sum())
        utilisation.append((now, float(busy.sum()) / healthy if healthy else 0.0))
        lp.schedule(now + float(elapsed.max()), _Boundary(), priority=1)

    def _finish_round(now: float) -> None:
        st.running_round = False
        ran = np.flatnonzero(st.round_time > 0)
        types_ran = st.current[ran]
        st.remaining[ran] -= st.round_steps[ran]
        st.time_on_type[ran, types_ran] += st.round_time[ran]
        st.attained[ran] += st.round_time[ran] * workload.gpus[ran]
        st.busy += np.bincount(
            types_ran, weights=st.round_time[ran] * workload.gpus[ran], minlength=k
        )
        done = ran[st.remaining[ran] <= 1e-9]
        if done.size:
            completion[done] = st.round_start + st.round_time[done]
            jct[done] = completion[done] - workload.arrival_s[done]
            st.current[done] = NOT_RUNNING
            finished = set(done.tolist())
            st.active = [i for i in st.active if i not in finished]
            waiting.difference_update(finished)
        st.round_steps[:] = 0.0
        st.round_time[:] = 0.0
        _ = now

    def arrival(lp: EventLoop, event: _Arrival) -> None:
        st.active.append(event.index)
        if st.idle and not st.running_round:
            st.idle = False
            lp.schedule(lp.now, _Boundary(), priority=1)

    def failure(lp: EventLoop, event: Failure) -> None:
        w = event.gpu_type
        lost = min(event.gpus, int(st.capacity[w]))
        st.capacity[w] -= lost
        on_type = [i for i in st.active if st.current[i] == w]
        used = int(workload.gpus[on_type].sum()) if on_type else 0
        for i in reversed(on_type):  # the newest jobs on the type give way
            if used <= st.capacity[w]:
                break
            used -= int(workload.gpus[i])
            st.round_steps[i] = 0.0  # the round's progress is lost
            st.round_time[i] = 0.0
            st.current[i] = NOT_RUNNING
            preemptions[i] += 1
        lp.schedule(lp.now + event.repair_s, _Repair(w, lost))

    def repair(_: EventLoop, event: _Repair) -> None:
        st.capacity[event.gpu_type] += event.gpus

    loop.on(_Boundary, boundary)
    loop.on(_Arrival, arrival)
    loop.on(Failure, failure)
    loop.on(_Repair, repair)
    for i, at in enumerate(workload.arrival_s.tolist()):
        loop.schedule(at, _Arrival(i))
    for f in failures:
        loop.schedule(f.at_s, f)
    loop.run(stop=lambda: not waiting)
    return RunResult(
        jct_s=jct,
        first_start_s=first_start,
        completion_s=completion,
        preemptions=preemptions,
        rounds=rounds,
        end_s=loop.now,
        wall_s=time.perf_counter() - started,
        busy_gpu_s=st.busy,
        utilisation=utilisation,
    )


def nan_mean(values: Float) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan
