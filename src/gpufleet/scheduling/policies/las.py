"""``las``: Tiresias' discretised two-dimensional least-attained-service (2D-LAS; Gu et al.,
NSDI'19; ``dlas_sim_jobs`` with GPU time in its simulator, github.com/SymbioticLab/Tiresias).

A job's service counts both dimensions, GPUs x time (``attained_gpu_s``), since its last
promotion, and picks one of ``len(thresholds) + 1`` queues::

    service_j = attained_gpu_s_j - base_j               (base_j = 0 until a promotion)
    queue_j   = #{i : thresholds_i <= service_j}         (0 = top; default 3600, 36000 GPU-s)

Jobs go in order of (queue, ``arrival_s``, id) — lower queue first, FIFO within one — and each
takes its current type if it has room, else the fastest type with room (``T[j, w] > 0``); a job
that does not fit is passed over. Preemptive: every round is recomputed, and a running job that
no longer makes the cut (jobs ranked ahead of it took its GPUs) is stopped.

**Starvation guard** (Tiresias' ``solve_starvation``). With ``run_j = sum_w time_on_type[j, w]``
and waiting time ``wait_j = now - arrival_s_j - run_j``, per job since its last promotion::

    executed_j = run_j - run_j(at the promotion)
    waited_j   = wait_j - wait_j(when it first ran after the promotion)

A waiting job with ``queue_j > 0``, ``executed_j > 0`` and ``waited_j >= starve_factor x
executed_j`` is promoted: ``base_j = attained_gpu_s_j`` (back to queue 0) and both clocks
restart. ``starve_factor=None`` turns the guard off (as Tiresias' simulator does by default;
its ``dlas-gpu-N`` variants set N from 0.5 to 1000; 8 here). The promotion and the two clock
origins are the policy's only state, kept per job id; a job the policy first sees already
served starts its waiting clock then.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from gpufleet.scheduling.core import Context, Float, Int, Policy, register
from gpufleet.scheduling.policies.kernels import greedy_fill

DEFAULT_THRESHOLDS_GPU_S = (3600.0, 36000.0)


@register("las")
class Las(Policy):
    def __init__(
        self,
        *,
        thresholds_gpu_s: Sequence[float] = DEFAULT_THRESHOLDS_GPU_S,
        starve_factor: float | None = 8.0,
        seed: int = 0,
    ) -> None:
        super().__init__(seed=seed)
        self.thresholds_gpu_s = np.asarray(sorted(thresholds_gpu_s), dtype=np.float64)
        if starve_factor is not None and starve_factor <= 0:
            msg = f"starve_factor must be positive or None, got {starve_factor}"
            raise ValueError(msg)
        self.starve_factor = starve_factor
        self._ids: Int = np.zeros(0, dtype=np.int64)
        self._base_gpu_s: Float = np.zeros(0)
        self._base_run_s: Float = np.zeros(0)
        self._base_wait_s: Float = np.zeros(0)
        self._clock_on: NDArray[np.bool_] = np.zeros(0, dtype=np.bool_)

    def assign(self, context: Context) -> Int:
        self._follow(context.job_id)
        if context.jobs == 0:
            return np.zeros(0, dtype=np.int64)
        queue = self._queues(context)
        rank = np.lexsort((context.job_id, context.arrival_s, queue))
        preference = _preference(context)
        k = preference.shape[1]
        return greedy_fill(
            np.repeat(rank, k).astype(np.int64), preference[rank].ravel(),
            context.capacity.astype(np.int64), context.gpus.astype(np.int64),
            context.throughput, context.throughput, False,  # noqa: FBT003 - positional kernel
        )  # fmt: skip

    def _queues(self, context: Context) -> Int:
        """(n,) each job's queue after this round's promotions (0 = top); updates the clocks."""
        run = context.time_on_type.sum(axis=1)
        wait = np.maximum(context.now - context.arrival_s - run, 0.0)
        executed = run - self._base_run_s
        start = ~self._clock_on & (executed > 0)  # first seen served since its promotion
        self._base_wait_s[start] = wait[start]
        self._clock_on |= start
        queue = self._queue(context.attained_gpu_s)
        if self.starve_factor is not None:
            starved = (
                ~context.running
                & self._clock_on
                & (queue > 0)
                & (wait - self._base_wait_s >= self.starve_factor * executed)
            )
            self._base_gpu_s[starved] = context.attained_gpu_s[starved]
            self._base_run_s[starved] = run[starved]
            self._clock_on[starved] = False
            queue[starved] = 0
        return queue

    def _queue(self, attained_gpu_s: Float) -> Int:
        service = attained_gpu_s - self._base_gpu_s
        return np.searchsorted(self.thresholds_gpu_s, service, side="right").astype(np.int64)

    def _follow(self, ids: Int) -> None:
        """Align the per-job state with the context's jobs (new jobs start with none)."""
        if np.array_equal(ids, self._ids):
            return
        order = np.argsort(self._ids, kind="stable")
        pos = np.searchsorted(self._ids[order], ids)
        pos = np.minimum(pos, max(order.size - 1, 0))
        known = order.size > 0
        rows = order[pos] if known else np.zeros(ids.size, dtype=np.int64)
        seen = (self._ids[rows] == ids) if known else np.zeros(ids.size, dtype=np.bool_)

        def carry(previous: Float, fresh: float) -> Float:
            out = np.full(ids.size, fresh)
            out[seen] = previous[rows[seen]]
            return out

        self._base_gpu_s = carry(self._base_gpu_s, 0.0)
        self._base_run_s = carry(self._base_run_s, 0.0)
        self._base_wait_s = carry(self._base_wait_s, 0.0)
        clock = np.zeros(ids.size, dtype=np.bool_)
        clock[seen] = self._clock_on[rows[seen]]
        self._clock_on = clock
        self._ids = ids.copy()


def _preference(context: Context) -> Int:
    """(n, K) each job's GPU types in the order it tries them: current, then fastest first."""
    key = -context.throughput
    running = np.flatnonzero(context.running)
    key[running, context.current_type[running]] = -np.inf
    return np.argsort(key, axis=1, kind="stable").astype(np.int64)
