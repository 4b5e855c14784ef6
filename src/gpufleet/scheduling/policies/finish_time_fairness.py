"""``finish-time-fairness``: Themis' finish-time fairness (Mahajan et al., NSDI'20), served
greedily each round: the job worst off against its fair share runs first.

Themis rates a job by ``rho = T_sh / T_id``: its finish time in the shared cluster over its finish
time alone on ``1/N`` of it. Here, with ``N`` the active jobs (``context.jobs``), ``C_w`` the GPUs
of type w, ``C = sum_w C_w`` and ``g_j`` the gang size::

    elapsed_j = now - arrival_s_j
    done_j    = sum_w time_on_type[j, w] * T[j, w]        steps run so far
    fair_j    = min(1, C / (N g_j)) * sum_w (C_w / C) T[j, w]

``fair_j`` is the job's rate alone on ``1/N`` of the cluster: ``C_w / N`` GPUs of every type,
on which its gang runs a fraction ``min(1, C / (N g_j))`` of the time, spread over the types in
proportion to their size (a type where ``T[j, w] = 0`` is share it cannot use). "Remaining time
at current share" is the remaining steps at the rate the job has actually had so far,
``done_j / elapsed_j``, so::

    T_sh = elapsed_j + remaining_steps_j * elapsed_j / done_j
    T_id = (done_j + remaining_steps_j) / fair_j
    rho_j = T_sh / T_id = elapsed_j * fair_j / done_j

— the steps it would have run on its fair share over the steps it ran. A job that has run
nothing has share 0 and ``rho = inf``. Jobs go in order of ``rho`` (largest first), then
``arrival_s``, then id; each takes the fastest type with room for its gang (``T[j, w] > 0``;
ties: its current type, then ``gpu_types`` order); a job that does not fit is passed over.
Preemptive and stateless: every round is recomputed from the context, so jobs of equal need take
turns round by round (Themis bounds that churn with leases; here the round is the lease).
``done_j`` counts restart overhead as run time, so it slightly overstates the steps when restarts
cost time. Where Themis and Gavel's ``finish_time_fairness`` track ``N`` over a job's life, this
uses the ``N`` of now, to stay computable from one context.
"""

from __future__ import annotations

import numpy as np

from gpufleet.scheduling.core import Context, Float, Int, Policy, register
from gpufleet.scheduling.policies.kernels import greedy_fill


@register("finish-time-fairness")
class FinishTimeFairness(Policy):
    def assign(self, context: Context) -> Int:
        if context.jobs == 0:
            return np.zeros(0, dtype=np.int64)
        n, k = context.throughput.shape
        rho = finish_time_ratio(context)
        rank = np.lexsort((context.job_id, context.arrival_s, -rho))
        current = np.zeros((n, k), dtype=np.bool_)
        running = np.flatnonzero(context.running)
        current[running, context.current_type[running]] = True
        preference = np.lexsort((~current, -context.throughput), axis=1)
        return greedy_fill(
            np.repeat(rank, k).astype(np.int64), preference[rank].ravel().astype(np.int64),
            context.capacity.astype(np.int64), context.gpus.astype(np.int64),
            context.throughput, context.throughput, False,  # noqa: FBT003 - positional kernel
        )  # fmt: skip


def finish_time_ratio(context: Context) -> Float:
    """(n,) Themis' ``rho`` of each job (the module docstring); ``inf`` where nothing ran."""
    capacity = context.capacity.astype(np.float64)
    total = float(capacity.sum())
    if total == 0:
        return np.zeros(context.jobs)
    done = (context.time_on_type * context.throughput).sum(axis=1)
    elapsed = np.maximum(context.now - context.arrival_s, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        slice_ = np.minimum(1.0, total / (context.jobs * context.gpus.astype(np.float64)))
        fair = slice_ * (context.throughput @ (capacity / total))
        rho = np.where(done > 0, elapsed * fair / done, np.inf)
    return np.asarray(rho, dtype=np.float64)
