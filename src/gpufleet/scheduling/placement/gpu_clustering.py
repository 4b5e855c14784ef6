"""GpuClustering (``03-GpuClustering``): keep GPU pods of one shape together.

A request's tag is "fractional" or "k whole GPUs"; a node's tags are those of the GPU pods it holds.
With ``base = floor(25 * (8000 - gpu_free_total) / 8000)``:
``base + 75`` if the node holds only the request's tag, ``base + 50`` if it holds that tag and
others, ``base + 25`` if it holds no GPU pod, ``base`` if only other tags. CPU-only requests score
0 everywhere. GPU choice: best fit.
"""

from __future__ import annotations

import numpy as np

from gpufleet.scheduling.placement.base import ScoringStrategy, register
from gpufleet.scheduling.placement.request import PlacementRequest
from gpufleet.scheduling.placement.state import ClusterState, Int


@register("gpu-clustering")
class GpuClustering(ScoringStrategy):
    def score_nodes(self, state: ClusterState, nodes: Int, request: PlacementRequest) -> Int:
        if request.num_gpu == 0:
            return np.zeros(nodes.size, dtype=np.int64)
        tags = state.pod_shapes[nodes]
        own = tags[:, 0 if request.is_fractional else request.num_gpu] > 0
        others = tags.sum(axis=1) - tags[:, 0 if request.is_fractional else request.num_gpu] > 0
        base = 25 * (8000 - state.total_gpu_free(nodes)) // 8000
        bonus = np.where(own, np.where(others, 50, 75), np.where(others, 0, 25))
        return (base + bonus).astype(np.int64)
