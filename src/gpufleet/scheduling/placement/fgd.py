"""FGD, fragmentation gradient descent (Weng et al., "Beware of Fragmentation", USENIX ATC'23).

Place each request where it increases the node's expected fragmentation ``F`` the least
(``F`` and the target workload: ``target.py``). For a candidate placement turning node ``n`` into
``n'``::

    score = floor(100 * sigmoid((F(n) - F(n')) / 1000))

A fractional request tries every GPU that fits and scores the node by its best GPU (the first on
ties), which is also the GPU chosen. Whole-GPU requests take the first fully free GPUs; CPU-only
requests only lower the node's free CPU. Needs ``StrategyContext.target``. The per-node work runs
in compiled kernels (``kernels.py``).
"""

from __future__ import annotations

import numpy as np

from gpufleet.scheduling.placement import kernels
from gpufleet.scheduling.placement.base import (
    ScoringStrategy,
    StrategyContext,
    first_free_gpus,
    register,
)
from gpufleet.scheduling.placement.request import PlacementRequest
from gpufleet.scheduling.placement.state import Bool, ClusterState, Int
from gpufleet.scheduling.placement.target import TargetWorkload


class FragmentationDelta:
    """FGD's per-node scores of a request (from ``F(n) - F(n')``), shared by FGD and its
    descendants; binds the target workload's type-by-node model table to one cluster."""

    def __init__(self, target: TargetWorkload | None) -> None:
        if target is None:
            msg = "this strategy needs a target workload (StrategyContext.target)"
            raise ValueError(msg)
        self.target = target
        self._owner: ClusterState | None = None
        self._allowed: Bool = np.zeros((0, 0), dtype=np.bool_)

    def allowed(self, state: ClusterState) -> Bool:
        """(types, nodes): may each target type use each node's GPU model (built once)."""
        if self._owner is not state:
            self._owner = state
            self._allowed = self.target.allowed(state.models, state.model)
        return self._allowed

    def fractional(
        self, state: ClusterState, nodes: Int, request: PlacementRequest
    ) -> tuple[Int, Int]:
        """Per node: FGD's best score over its GPUs for a fractional request, and that GPU."""
        t = self.target
        return kernels.fgd_fractional(
            state.gpu_free, state.cpu_free, nodes, request.gpu_milli, request.cpu_milli,
            self.allowed(state), t.gpu_milli, t.num_gpu, t.cpu_milli, t.popularity,
        )  # fmt: skip

    def whole(self, state: ClusterState, nodes: Int, request: PlacementRequest) -> Int:
        """Per node: FGD's score for a whole-GPU or CPU-only request."""
        t = self.target
        return kernels.fgd_whole_scores(
            state.gpu_free, state.cpu_free, nodes, request.num_gpu, request.cpu_milli,
            self.allowed(state), t.gpu_milli, t.num_gpu, t.cpu_milli, t.popularity,
        )  # fmt: skip


@register("fgd")
class Fgd(ScoringStrategy):
    def __init__(self, context: StrategyContext) -> None:
        super().__init__(context)
        self.delta = FragmentationDelta(context.target)

    def score_nodes(self, state: ClusterState, nodes: Int, request: PlacementRequest) -> Int:
        if request.is_fractional:
            return self.delta.fractional(state, nodes, request)[0]
        return self.delta.whole(state, nodes, request)

    def choose_gpus(
        self, state: ClusterState, node: int, request: PlacementRequest
    ) -> tuple[int, ...]:
        if not request.is_fractional:
            return first_free_gpus(state, node, request.num_gpu)
        return (int(self.delta.fractional(state, np.array([node]), request)[1][0]),)
