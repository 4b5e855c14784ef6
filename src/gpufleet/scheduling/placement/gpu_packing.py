"""GpuPacking (``04-GpuPacking``): fill partly used GPUs first, then partly used nodes, then idle
nodes. CPU-only requests score 0 everywhere. With ``F`` fully free GPUs out of ``G`` on a node:

* idle node (``F == G``): ``max(33 - F, F)``;
* else take, in ascending order of free milli, the first ``k`` GPUs that fit; if ``u > 0`` of them
  are fully free: ``max(50 - u, 33)``;
* else (only partly used GPUs taken):
  ``max(100 - floor(sum(floor(free_j * 100 / 1000)) / 10), 50)``.

GPU choice: best fit.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from gpufleet.scheduling.placement.base import ScoringStrategy, register
from gpufleet.scheduling.placement.request import MILLI_PER_GPU, PlacementRequest
from gpufleet.scheduling.placement.state import ClusterState, Int


@register("gpu-packing")
class GpuPacking(ScoringStrategy):
    def score_nodes(self, state: ClusterState, nodes: Int, request: PlacementRequest) -> Int:
        if request.num_gpu == 0:
            return np.zeros(nodes.size, dtype=np.int64)
        free = state.gpu_free[nodes]
        fully_free = (free == MILLI_PER_GPU).sum(axis=1)
        idle = fully_free == state.gpu_count[nodes]
        ordered = np.sort(free, axis=1, kind="stable")
        fits = ordered >= request.gpu_milli
        taken = fits & (np.cumsum(fits, axis=1) <= request.num_gpu)
        used_free = (taken & (ordered == MILLI_PER_GPU)).sum(axis=1)
        partial_sum = np.where(taken, ordered * 100 // MILLI_PER_GPU, 0).sum(axis=1)
        scores = np.where(
            idle,
            np.maximum(33 - fully_free, fully_free),
            np.where(
                used_free > 0,
                np.maximum(50 - used_free, 33),
                np.maximum(100 - partial_sum // 10, 50),
            ),
        )
        return cast("Int", scores.astype(np.int64))
