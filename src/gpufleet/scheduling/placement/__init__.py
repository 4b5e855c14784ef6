"""Placement of fractional and multi-GPU requests onto nodes (pure; NumPy state, no I/O).

Strategies (one file each, registered by name): ``random``, ``dotprod``, ``gpu-clustering``,
``gpu-packing``, ``best-fit``, ``fgd`` — the six policies of the FGD paper — and our own,
``fgd-balance`` (FGD steered by CPU/GPU balance) and ``fgd-pack`` (``fgd-balance`` keeping
fractional requests to the GPU slots an optimal packing of the target workload would use).
"""

from gpufleet.scheduling.placement import (  # noqa: F401 - importing registers the strategies
    best_fit,
    dot_product,
    fgd,
    fgd_balance,
    fgd_pack,
    gpu_clustering,
    gpu_packing,
    random_fit,
)
from gpufleet.scheduling.placement.base import (
    PlacementStrategy,
    StrategyContext,
    create,
    names,
    register,
)
from gpufleet.scheduling.placement.request import Placement, PlacementRequest
from gpufleet.scheduling.placement.state import ClusterState, NodeSpec
from gpufleet.scheduling.placement.target import TargetWorkload, fragmentation

__all__ = [
    "ClusterState",
    "NodeSpec",
    "Placement",
    "PlacementRequest",
    "PlacementStrategy",
    "StrategyContext",
    "TargetWorkload",
    "create",
    "fragmentation",
    "names",
    "register",
]
