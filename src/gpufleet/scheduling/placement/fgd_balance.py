"""FGD-Balance: FGD steered by CPU/GPU balance — gpufleet's own placement strategy.

FGD (``fgd.py``) looks one request ahead: it scores a placement by how much it changes the
node's expected fragmentation under the target workload. It does not see that a node's CPU runs
out long before its GPU slices do when CPU-hungry requests keep landing there. On openb, 470-milli
requests ask for 8-12 cores (17-25 cores per GPU) while G2 nodes have 12 cores per GPU and T4
nodes 52: under FGD, 1.3% of all GPU capacity ends a run stranded on nodes without the CPU any
waiting request needs.

Rule, with ``R`` the CPU milli per GPU milli the target workload's GPU requests ask for
(``TargetWorkload.cpu_per_gpu_milli``)::

    node is CPU-rich      <=>  free CPU milli > R * max(free GPU milli, 1)
    request is CPU-heavy  <=>  CPU milli > R * num_gpu * gpu_milli   (CPU-only requests are)
    match                  =   1 if the two agree, else 0
    score                  =   2 * fgd_score + match

so the match only breaks FGD's ties, and remaining ties go to the node priority as in FGD. The
steering is binary on purpose: FGD's strength comes partly from first-fit in a fixed node order
among fragmentation-equivalent nodes (it consolidates), and every continuous or per-request
random tie-break tried destroyed that (``docs/placement.md`` lists the experiments). GPU choice:
FGD's. Needs ``StrategyContext.target``.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from gpufleet.scheduling.placement.base import StrategyContext, register
from gpufleet.scheduling.placement.fgd import Fgd
from gpufleet.scheduling.placement.request import PlacementRequest
from gpufleet.scheduling.placement.state import ClusterState, Int


@register("fgd-balance")
class FgdBalance(Fgd):
    def __init__(self, context: StrategyContext) -> None:
        super().__init__(context)
        self.ratio = self.delta.target.cpu_per_gpu_milli

    def score_nodes(self, state: ClusterState, nodes: Int, request: PlacementRequest) -> Int:
        fgd = super().score_nodes(state, nodes, request)
        free_gpu = np.maximum(state.total_gpu_free(nodes), 1)
        cpu_rich = state.cpu_free[nodes] > self.ratio * free_gpu
        cpu_heavy = request.num_gpu == 0 or request.cpu_milli > self.ratio * request.total_gpu_milli
        return cast("Int", 2 * fgd + (cpu_rich == cpu_heavy).astype(np.int64))
