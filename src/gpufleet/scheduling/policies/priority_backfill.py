"""``priority``: strict priority with EASY backfill (Lifka, "The ANL/IBM SP scheduling system",
JSSPP 1995; Mu'alem & Feitelson, IEEE TPDS 2001 — the rule of Maui and of Slurm's
``sched/backfill`` with one reservation).

The queue is the waiting jobs ordered by ``priority`` (larger first), then ``arrival_s``, then id.
Jobs that could never run (no type with ``T[j, w] > 0`` and ``capacity[w] >= g_j``) are left out
of it: they would block the queue forever. Each round:

1. **Running jobs keep their type** (non-preemptive). Only if a type lost GPUs and its running
   jobs no longer fit are the lowest-priority (then latest) of them stopped (and a job is never
   kept where ``T[j, w] = 0``).
2. **Head pass.** Queued jobs start in order, each on the first type in ``gpu_types`` order with
   ``T[j, w] > 0`` and room for its whole gang, until the first job that does not fit: the head h.
3. **Reservation.** Every job holding GPUs (running, or started in step 2) has an estimated end
   ``end_i = now + remaining_steps_i / T[i, w_i]``. For each type w where h can run, walk the jobs
   on w by ``end_i``; the shadow time ``shadow_w`` is the first ``end_i`` at which
   ``free_w + (GPUs released by then) >= g_h``, and ``extra_w`` that sum minus ``g_h``: GPUs of w
   still free when h starts. h reserves ``w* = argmin_w shadow_w`` (first in order on ties).
4. **Backfill.** The jobs behind h, in queue order, start on the first type with room where::

       w != w*   or   now + remaining_steps_j / T[j, w] <= shadow_w*   or   g_j <= extra

   and a job that will still run at the shadow time spends ``extra``. So no backfilled job
   delays h past its shadow time, by these estimates.

One reservation only (EASY); conservative backfill would give every queued job one. Placement is
heterogeneity-agnostic — the first type with room, never one where ``T[j, w] = 0``. Runtime
estimates are exact for the declared steps and known throughputs, but ignore restart overhead and
that GPUs free only at the end of a round, so a reservation can slip by part of a round.
``backfill=False`` gives plain strict priority (the queue stops at the head).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gpufleet.scheduling.core import NOT_RUNNING, Context, Float, Int, Policy, register
from gpufleet.scheduling.placement._jit import njit


@register("priority")
class PriorityBackfill(Policy):
    def __init__(self, *, backfill: bool = True, seed: int = 0) -> None:
        super().__init__(seed=seed)
        self.backfill = backfill

    def assign(self, context: Context) -> Int:
        n = context.jobs
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        gpus = context.gpus.astype(np.int64, copy=False)
        rates = context.throughput
        capacity = context.capacity.astype(np.int64, copy=False)
        kept = keep_running(context)
        held = np.where(kept, context.current_type, NOT_RUNNING)
        rows = np.flatnonzero(kept)
        end = np.full(n, np.inf)
        end[rows] = context.now + context.remaining_steps[rows] / rates[rows, held[rows]]
        free = capacity - np.bincount(held[kept], weights=gpus[kept], minlength=capacity.size)
        can_ever = ((rates > 0) & (capacity[None, :] >= gpus[:, None])).any(axis=1)
        waiting = np.flatnonzero(~kept & can_ever)
        queue = waiting[
            np.lexsort(
                (context.job_id[waiting], context.arrival_s[waiting], -context.priority[waiting])
            )
        ]
        started = easy_backfill(
            queue.astype(np.int64), gpus, rates, context.remaining_steps,
            free.astype(np.int64), held.astype(np.int64), end, context.now, self.backfill,
        )  # fmt: skip
        return np.where(kept, context.current_type, started).astype(np.int64)


def keep_running(context: Context) -> NDArray[np.bool_]:
    """Running jobs that stay: all of them, unless a type's running jobs exceed its capacity
    (GPUs lost), when the lowest priority, then latest arrival, of them give way."""
    current = context.current_type
    running = np.flatnonzero(current != NOT_RUNNING)
    kept = np.zeros(context.jobs, dtype=np.bool_)
    if running.size == 0:
        return kept
    kinds = current[running]
    order = running[
        np.lexsort(
            (context.job_id[running], context.arrival_s[running], -context.priority[running], kinds)
        )
    ]
    kinds = current[order]
    total = np.cumsum(context.gpus[order])
    first = np.flatnonzero(np.r_[True, kinds[1:] != kinds[:-1]])
    before = np.repeat(total[first] - context.gpus[order][first], np.diff(np.r_[first, order.size]))
    runnable = context.throughput[order, kinds] > 0
    kept[order] = runnable & (total - before <= context.capacity[kinds])
    return kept


@njit
def easy_backfill(  # noqa: PLR0917 - a compiled kernel takes positional arrays
    queue: Int,
    gpus: Int,
    throughput: Float,
    remaining: Float,
    free: Int,
    held: Int,
    end: Float,
    now: float,
    backfill: bool,
) -> Int:  # pragma: no cover - compiled
    """Steps 2-4 of the module docstring. ``held``/``end``: each job's type and estimated end if
    it holds GPUs now (``-1``/``inf`` otherwise). Returns the type of each job it starts."""
    assigned = np.full(gpus.size, -1, dtype=np.int64)
    left = free.copy()
    on = held.copy()
    ends = end.copy()
    for pos in range(queue.size):
        j = queue[pos]
        w = _first_with_room(j, gpus, throughput, left)
        if w < 0:
            if backfill:
                reserved, shadow, extra = _reservation(j, gpus, throughput, left, on, ends)
                _backfill(queue[pos + 1 :], gpus, throughput, remaining, left, now,
                          reserved, shadow, extra, assigned)  # fmt: skip
            break
        assigned[j] = w
        left[w] -= gpus[j]
        on[j] = w
        ends[j] = now + remaining[j] / throughput[j, w]
    return assigned


@njit
def _first_with_room(j: int, gpus: Int, throughput: Float, left: Int) -> int:  # pragma: no cover
    for w in range(left.size):
        if throughput[j, w] > 0.0 and left[w] >= gpus[j]:
            return w
    return -1


@njit
def _reservation(  # noqa: PLR0917 - compiled
    head: int, gpus: Int, throughput: Float, left: Int, on: Int, ends: Float
) -> tuple[int, float, int]:  # pragma: no cover - compiled
    """Step 3: the reserved type, the shadow time and the GPUs of that type left over then."""
    reserved, shadow, extra = -1, np.inf, 0
    for w in range(left.size):
        if throughput[head, w] <= 0.0:
            continue
        holders = np.flatnonzero(on == w)
        available = left[w]
        for i in holders[np.argsort(ends[holders], kind="mergesort")]:
            available += gpus[i]
            if available >= gpus[head]:
                if ends[i] < shadow:
                    reserved, shadow, extra = w, ends[i], available - gpus[head]
                break
    return reserved, shadow, extra


@njit
def _backfill(  # noqa: PLR0917 - compiled
    queue: Int,
    gpus: Int,
    throughput: Float,
    remaining: Float,
    left: Int,
    now: float,
    reserved: int,
    shadow: float,
    extra: int,
    assigned: Int,
) -> None:  # pragma: no cover - compiled
    """Step 4, in place: start the jobs of ``queue`` that do not delay the reservation."""
    for j in queue:
        for w in range(left.size):
            if throughput[j, w] <= 0.0 or left[w] < gpus[j]:
                continue
            if w == reserved and now + remaining[j] / throughput[j, w] > shadow:
                if gpus[j] > extra:
                    continue
                extra -= gpus[j]
            assigned[j] = w
            left[w] -= gpus[j]
            break
