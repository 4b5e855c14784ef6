"""DotProd (``02-DotProd``): prefer the node whose free resources align least with the request.

With MaxSpecCpu = 128,000 milli and MaxSpecGpu = 8,000 milli::

    node = (cpu_free / 128000, gpu_free_total / 8000)
    pod = (cpu_req / 128000, num_gpu * gpu_milli / 8000)
    score = floor(100 * (1 - node.pod / 2))

GPU choice: best fit.
"""

from __future__ import annotations

import numpy as np

from gpufleet.scheduling.placement.base import ScoringStrategy, register
from gpufleet.scheduling.placement.request import PlacementRequest
from gpufleet.scheduling.placement.state import ClusterState, Int

MAX_SPEC_CPU = 128_000.0
MAX_SPEC_GPU = 8_000.0


@register("dotprod")
class DotProduct(ScoringStrategy):
    def score_nodes(self, state: ClusterState, nodes: Int, request: PlacementRequest) -> Int:
        dot = (state.cpu_free[nodes] / MAX_SPEC_CPU) * (request.cpu_milli / MAX_SPEC_CPU) + (
            state.total_gpu_free(nodes) / MAX_SPEC_GPU
        ) * (request.total_gpu_milli / MAX_SPEC_GPU)
        return np.floor(100 * (1 - dot / 2)).astype(np.int64)
