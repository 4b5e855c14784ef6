"""BestFit (``05-BestFit``): prefer the node left with the least free CPU and GPU::

    s = 0.5 * (cpu_free - cpu_req) / 128000 + 0.5 * (gpu_free_total - num_gpu * gpu_milli) / 8000
    score = floor(100 * (1 - s))

(The authors' min-max normalisation over feasible nodes changes neither the best node nor the
ties, so it is left out.) GPU choice: best fit.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from gpufleet.scheduling.placement.base import ScoringStrategy, register
from gpufleet.scheduling.placement.dot_product import MAX_SPEC_CPU, MAX_SPEC_GPU
from gpufleet.scheduling.placement.request import PlacementRequest
from gpufleet.scheduling.placement.state import ClusterState, Int


@register("best-fit")
class BestFit(ScoringStrategy):
    def score_nodes(self, state: ClusterState, nodes: Int, request: PlacementRequest) -> Int:
        left = (
            0.5 * (state.cpu_free[nodes] - request.cpu_milli) / MAX_SPEC_CPU
            + 0.5 * (state.total_gpu_free(nodes) - request.total_gpu_milli) / MAX_SPEC_GPU
        )
        return cast("Int", np.floor((1 - left) * 100).astype(np.int64))
