"""Random: a node drawn uniformly from the feasible ones (FGD paper's baseline ``01-Random``).

GPU choice: a fractional request takes a GPU drawn uniformly from those that fit; whole-GPU
requests take the first fully free GPUs.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from gpufleet.scheduling.placement.base import StrategyContext, first_free_gpus, register
from gpufleet.scheduling.placement.request import Placement, PlacementRequest
from gpufleet.scheduling.placement.state import ClusterState


@register("random")
class RandomFit:
    name: ClassVar[str] = "random"

    def __init__(self, context: StrategyContext) -> None:
        self.rng = np.random.default_rng([context.seed, 0x5EED])

    def place(self, state: ClusterState, request: PlacementRequest) -> Placement | None:
        candidates = np.flatnonzero(state.feasible(request))
        if candidates.size == 0:
            return None
        node = int(candidates[self.rng.integers(candidates.size)])
        if request.is_fractional:
            fits = np.flatnonzero(state.gpu_free[node] >= request.gpu_milli)
            gpus: tuple[int, ...] = (int(fits[self.rng.integers(fits.size)]),)
        else:
            gpus = first_free_gpus(state, node, request.num_gpu)
        return Placement(node, gpus, request.gpu_milli)
