"""Compiled per-round kernels of the scheduling policies (numba; see ``placement/_jit.py``)."""

from __future__ import annotations

import numpy as np

from gpufleet.scheduling.core import Float, Int
from gpufleet.scheduling.placement._jit import njit


@njit
def greedy_fill(  # pragma: no cover - compiled
    order_job: Int,
    order_type: Int,
    capacity: Int,
    gpus: Int,
    throughput: Float,
    priority: Float,
    positive_only: bool,
) -> Int:
    """Walk the (job, GPU type) entries in order; give each job the first type in its entries
    with room for its whole gang (and, with ``positive_only``, a positive priority)."""
    n = gpus.size
    assigned = np.full(n, -1, dtype=np.int64)
    left = capacity.copy()
    for e in range(order_job.size):
        j = order_job[e]
        w = order_type[e]
        if left[w] <= 0 or assigned[j] >= 0 or throughput[j, w] <= 0.0:
            continue
        if positive_only and priority[j, w] <= 0.0:
            continue
        if gpus[j] > left[w]:
            continue
        left[w] -= gpus[j]
        assigned[j] = w
    return assigned
