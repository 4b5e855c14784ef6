"""Gavel's round-based mechanism: turns a policy's target allocation into who runs each round.

A heterogeneity-aware policy in Gavel (Narayanan et al., OSDI'20) does not pick jobs; it returns
an *allocation* ``A[j, w]``: the share of time job ``j`` should spend on GPU type ``w``. This
mechanism realises it round by round (``docs/gavel-mechanism.md`` is our reading of Gavel's
code, with citations). Per job and type it tracks the time received since the last reset,
``T[j, w]`` (starting at half a round), and per type the time handed out, ``W[w]``::

    priority[j, w] = A[j, w] * W[w] / T[j, w]        (0 for jobs missing from the allocation)

— a job that received less than its share ranks higher. Each round, per GPU type in turn, the
jobs are sorted by (priority, deficit, allocation) descending, ties by job id, and fill that
type's free GPUs; a job runs on at most one type per round. Deficits carry what a job was owed
and did not receive across resets. The allocation is recomputed at a round boundary when the job
set changed *and* ``reset_interval_s`` has passed since the last reset — 1920 s in Gavel, which
makes it about every six 360-s rounds; between resets new jobs are missing from the (stale)
allocation and wait. ``reset_interval_s = 0`` recomputes whenever the job set changes.

Gavel's agnostic policies also shuffle the order of GPU types every round
(``random.Random(seed + 5)``, as Gavel seeds it); its aware policies keep the order fastest
first (by the active jobs' mean throughput on each type, whatever order the cluster lists them
in). A change of capacity (GPUs failed or repaired) also calls for a new allocation. Policies
that only run jobs with a positive priority (Gavel's FIFO) set ``positive_only``. State
(allocation, times, deficits) lives in the policy object and is a function of the contexts it
has seen, so the mechanism stays deterministic for a seed.
"""

from __future__ import annotations

import random
from abc import abstractmethod

import numpy as np

from gpufleet.scheduling.core import NOT_RUNNING, Context, Float, Int, Policy
from gpufleet.scheduling.policies.kernels import greedy_fill

HALF_ROUND_START = 0.5
"""T[j, w] starts at half a round (Gavel: ``time_per_iteration / 2``)."""


class RoundMechanism(Policy):
    """Base of Gavel-style policies: subclasses give ``allocation(context)``."""

    positive_only = False
    """Run only jobs with a positive priority (Gavel's FIFO policies)."""
    shuffle_types = False
    """Shuffle the order of GPU types every round (Gavel's agnostic policies)."""

    def __init__(self, *, reset_interval_s: float = 1920.0, seed: int = 0) -> None:
        super().__init__(seed=seed)
        self.reset_interval_s = reset_interval_s
        self._shuffler = random.Random(seed + 5)  # noqa: S311 - Gavel's seeding, not security
        self._ids: Int = np.zeros(0, dtype=np.int64)
        self._alloc_ids: Int = np.zeros(0, dtype=np.int64)
        self._alloc: Float = np.zeros((0, 0))
        self._time: Float = np.zeros((0, 0))
        self._deficit: Float = np.zeros((0, 0))
        self._seen_time: Float = np.zeros((0, 0))
        self._worker_time: Float = np.zeros(0)
        self._seen_busy: Float = np.zeros(0)
        self._last_reset = 0.0
        self._changed = False
        self._capacity: Int = np.zeros(0, dtype=np.int64)

    @abstractmethod
    def allocation(self, context: Context) -> Float:
        """(n, K) target share of time of each job on each GPU type (rows sum to <= 1)."""

    # ---------------------------------------------------------------- bookkeeping

    def _follow_jobs(self, context: Context) -> None:
        """Carry per-job state over to the context's jobs; new jobs start at half a round."""
        ids, k = context.job_id, len(context.gpu_types)
        if self._worker_time.size != k:
            self._worker_time = np.zeros(k)
            self._seen_busy = np.zeros(k)
        if np.array_equal(ids, self._ids):
            return
        self._changed = True
        old = {int(j): i for i, j in enumerate(self._ids.tolist())}
        rows = np.array([old.get(int(j), -1) for j in ids.tolist()], dtype=np.int64)
        kept = rows >= 0
        start = HALF_ROUND_START * context.round_s

        def carry(previous: Float, fresh: float) -> Float:
            out = np.full((ids.size, k), fresh)
            if previous.size:
                out[kept] = previous[rows[kept]]
            return out

        self._time = carry(self._time, start)
        self._deficit = carry(self._deficit, 0.0)
        self._seen_time = carry(self._seen_time, 0.0)
        self._seen_time[~kept] = context.time_on_type[~kept]
        self._ids = ids.copy()

    def _account(self, context: Context, busy_s: Float) -> None:
        """Add the time run since the last call to T (per job) and W (per type)."""
        self._time += context.time_on_type - self._seen_time
        self._seen_time = context.time_on_type.copy()
        self._worker_time += busy_s - self._seen_busy
        self._seen_busy = busy_s.copy()

    def _allocation_rows(self) -> tuple[Float, np.ndarray]:
        """The (possibly stale) allocation aligned with the current jobs, and who is in it."""
        n, k = self._ids.size, self._worker_time.size
        aligned = np.zeros((n, k))
        if not self._alloc_ids.size:
            return aligned, np.zeros(n, dtype=np.bool_)
        pos = np.searchsorted(self._alloc_ids, self._ids)
        pos = np.minimum(pos, self._alloc_ids.size - 1)
        present = self._alloc_ids[pos] == self._ids
        aligned[present] = self._alloc[pos[present]]
        return aligned, present

    def _reset(self, context: Context) -> None:
        elapsed = context.now - self._last_reset
        owed, present = self._allocation_rows()
        received = self._time - HALF_ROUND_START * context.round_s
        self._deficit += np.where(present[:, None], owed * elapsed, 0.0) - received
        self._time[:] = HALF_ROUND_START * context.round_s
        self._worker_time[:] = HALF_ROUND_START * context.round_s * self._ids.size
        self._last_reset = context.now
        allocation = np.clip(np.asarray(self.allocation(context), dtype=np.float64), 0.0, 1.0)
        order = np.argsort(self._ids, kind="stable")  # sorted, for the lookups between resets
        self._alloc = allocation[order]
        self._alloc_ids = self._ids[order]
        self._changed = False

    # ---------------------------------------------------------------- the round

    def assign(self, context: Context) -> Int:
        busy = context.busy_s if context.busy_s is not None else context.time_on_type.sum(0)
        self._follow_jobs(context)
        if not np.array_equal(context.capacity, self._capacity):
            # GPUs failed or came back: Gavel recomputes too (its workers re-register).
            self._changed = self._capacity.size > 0 or self._changed
            self._capacity = context.capacity.copy()
        self._account(context, busy)
        due = context.now - self._last_reset >= self.reset_interval_s or self._last_reset == 0
        if self._changed and due:
            self._reset(context)
        if not context.jobs:
            return np.zeros(0, dtype=np.int64)
        alloc, present = self._allocation_rows()
        priority = self._priorities(context, alloc, present)
        if self.shuffle_types:
            types = list(range(len(context.gpu_types)))
            self._shuffler.shuffle(types)
        else:  # fastest first (Gavel: v100, p100, k80), by the jobs' mean throughput
            speed = context.throughput.mean(axis=0)
            types = np.argsort(-speed, kind="stable").tolist()
        order_job, order_type = self._queues(types, priority, alloc)
        assigned = greedy_fill(
            order_job, order_type, context.capacity.astype(np.int64), context.gpus,
            context.throughput, priority, self.positive_only,
        )  # fmt: skip
        # A job picked but missing from the stale allocation gets no worker this round.
        assigned[~present] = NOT_RUNNING
        return assigned

    def _priorities(self, context: Context, alloc: Float, present: np.ndarray) -> Float:
        w = self._worker_time[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            fraction = np.where(w > 0, self._time / w, 0.0)
            ratio = np.where(fraction > 0, alloc / fraction, alloc * 1e9)
        priority = np.where(present[:, None] & (alloc > 0) & (context.throughput > 0), ratio, 0.0)
        return np.asarray(priority, dtype=np.float64)

    def _queues(self, types: list[int], priority: Float, alloc: Float) -> tuple[Int, Int]:
        n = self._ids.size
        index = np.arange(n)
        jobs, kinds = [], []
        for w in types:
            # sorted(..., key=(priority, deficit, allocation), reverse=True) is stable: ties keep
            # job-id order. lexsort sorts by the last key first.
            order = np.lexsort((index, -alloc[:, w], -self._deficit[:, w], -priority[:, w]))
            jobs.append(order)
            kinds.append(np.full(n, w, dtype=np.int64))
        return np.concatenate(jobs).astype(np.int64), np.concatenate(kinds)
