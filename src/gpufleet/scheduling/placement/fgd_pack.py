"""FGD-Pack: ``fgd-balance`` that puts each fractional request only into GPU slots an optimal
packing of the target workload would use — gpufleet's second placement strategy.

Under FGD nearly every request is placed until the cluster runs out of whole GPUs (about 95.5%
arrived demand on openb ``default``); what is allocated then is fixed by how many GPUs the
fractional requests occupy. That is bin packing (GPUs of 1000 milli, items of the requests' milli),
and FGD packs it greedily, one request ahead: a 320-milli request goes into the 530-milli gap
beside a 470 (leaving 210 that only a rare 160 fits) rather than open a GPU that a later 650 or two
more 320s would fill. On seed 42 FGD-Balance's fractional requests occupy 1,962 GPUs where an
optimal packing of the same requests needs 1,920.

**Prices.** The cutting-stock LP of the target's fractional types (sizes ``s``, demand ``d_s`` =
popularity, bins of 1000 milli) has a dual: a price ``pi_s`` per item, in GPUs, maximising
``sum_s d_s pi_s`` subject to every set of items that fits into one GPU costing at most 1. It
is solved once per strategy, in arc-flow form (potentials over the milli levels 0..1000, so it
stays small whatever the sizes). On ``default`` the prices are 1 for 810 milli, 2/3 for 550-650,
1/2 for 460-470, 1/3 for 320-370, 1/4 for 230, 1/12 for 220 and 0 for 160 (the LP's unique
optimal dual, so no solver choice hides in them).

**Loss of a slot.** ``V(h)``, the most a gap of ``h`` milli can still earn, is the knapsack over
the prices (``V(1000) = 1``: a whole GPU costs one GPU). Putting a request of ``s`` milli into a
GPU with ``h`` free loses::

    loss(s, h) = V(h) - V(h - s) - pi_s   >= 0      (pi_s = V(s) for sizes outside the target)

zero when the GPU can still be completed into one the prices call full (650 into 1000, 320 into
350, 320 into 1000, 470 into 530), positive when the placement strands capacity the prices say
is worth more (320 into 530: 1/2 - 0 - 1/3 = 1/6).

**Rule.** A fractional request takes, on each node, the GPU with the least loss and, among those,
FGD's best score; nodes rank by that loss first, then by FGD-Balance's score (``2 * fgd + match``),
then by node priority. Whole-GPU and CPU-only requests are scored exactly as by FGD-Balance. No
tuned constant: the prices come from the target workload alone. Needs ``StrategyContext.target``.

**Result** (openb, 10 seeds 42-51): 96.12 on ``default`` (FGD published 95.39, FGD-Balance 95.79),
above FGD's published mean on all 17 workloads by +0.21 (multigpu40) to +1.50 pp (gpushare100);
96.115 on seeds 0-9. About 2 s per ``default`` run (``docs/placement.md``).
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse import coo_array

from gpufleet.scheduling.placement import kernels
from gpufleet.scheduling.placement.base import StrategyContext, register
from gpufleet.scheduling.placement.fgd import FragmentationDelta
from gpufleet.scheduling.placement.fgd_balance import FgdBalance
from gpufleet.scheduling.placement.request import MILLI_PER_GPU, PlacementRequest
from gpufleet.scheduling.placement.state import ClusterState, Int
from gpufleet.scheduling.placement.target import TargetWorkload

Float = NDArray[np.float64]

LOSS_UNIT = 1_000_000
"""Losses are compared in millionths of a GPU, so equal rational losses compare equal."""
LOSS_STEP = 101
"""One unit of loss outweighs any FGD score (0..100): the loss ranks first."""


def item_prices(sizes: list[int], demand: list[float]) -> Float:
    """Optimal dual prices (in GPUs) of the cutting-stock LP for items of ``sizes`` milli.

    The dual in arc-flow form: maximise ``sum_s d_s pi_s`` over prices ``pi_s >= 0`` and
    potentials ``0 <= phi_h <= 1`` on the milli levels ``h`` reachable as sums of sizes
    (``phi_0 = 0``), with ``phi_{h+s} >= phi_h + pi_s`` for every item and ``phi`` non-decreasing.
    (SciPy's HiGHS: ``highspy`` prints a banner to stdout, which would corrupt ``--json``.)
    """
    reach = np.zeros(MILLI_PER_GPU + 1, dtype=np.bool_)
    reach[0] = True
    for h in range(MILLI_PER_GPU + 1):
        if reach[h]:
            for s in sizes:
                if h + s <= MILLI_PER_GPU:
                    reach[h + s] = True
    reach[MILLI_PER_GPU] = True
    levels = np.flatnonzero(reach).tolist()
    column = {h: len(sizes) + i - 1 for i, h in enumerate(levels)}  # phi_0 is not a column
    rows: list[list[tuple[int, float]]] = []  # each row: sum of terms <= 0
    for h in levels[:-1]:
        for k, s in enumerate(sizes):
            if h + s <= MILLI_PER_GPU:  # phi_h + pi_s - phi_{h+s} <= 0
                rows.append([(k, 1.0), (column[h + s], -1.0)] + ([(column[h], 1.0)] if h else []))
    for lo, hi in itertools.pairwise(levels):  # phi_lo - phi_hi <= 0
        rows.append([(column[hi], -1.0)] + ([(column[lo], 1.0)] if lo else []))
    n = len(sizes) + len(levels) - 1
    r = [i for i, row in enumerate(rows) for _ in row]
    c = [col for row in rows for col, _ in row]
    v = [val for row in rows for _, val in row]
    bounds = [(0.0, None)] * len(sizes) + [(0.0, 1.0)] * (len(levels) - 1)
    cost = np.zeros(n)
    cost[: len(sizes)] = -np.asarray(demand, dtype=np.float64)
    result = linprog(
        cost, A_ub=coo_array((v, (r, c)), shape=(len(rows), n)), b_ub=np.zeros(len(rows)),
        bounds=bounds, method="highs",
    )  # fmt: skip
    if result.status != 0:
        msg = f"packing-price LP failed: {result.message}"
        raise RuntimeError(msg)
    return np.maximum(np.asarray(result.x[: len(sizes)], dtype=np.float64), 0.0)


class PackingPrices:
    """The target's fractional item prices, the gap values ``V`` and the loss tables."""

    def __init__(self, target: TargetWorkload) -> None:
        demand: dict[int, float] = defaultdict(float)
        fractional = (target.num_gpu == 1) & (target.gpu_milli < MILLI_PER_GPU)
        for t in np.flatnonzero(fractional):
            demand[int(target.gpu_milli[t])] += float(target.popularity[t])
        sizes = sorted(demand)
        prices = item_prices(sizes, [demand[s] for s in sizes]) if sizes else np.zeros(0)
        self.price = dict(zip(sizes, prices.tolist(), strict=True))
        value = np.zeros(MILLI_PER_GPU + 1)
        for h in range(1, MILLI_PER_GPU + 1):
            best = value[h - 1]
            for s, p in self.price.items():
                if s <= h:
                    best = max(best, value[h - s] + p)
            value[h] = best
        value[MILLI_PER_GPU] = 1.0
        self.value = value
        self._loss: dict[int, Int] = {}

    def loss(self, milli: int) -> Int:
        """``loss(milli, h)`` for h = 0..1000 in millionths of a GPU (0 where it does not fit)."""
        table = self._loss.get(milli)
        if table is None:
            price = self.price.get(milli, float(self.value[milli]))
            h = np.arange(milli, MILLI_PER_GPU + 1)
            exact = self.value[h] - self.value[h - milli] - price
            table = np.zeros(MILLI_PER_GPU + 1, dtype=np.int64)
            table[milli:] = np.maximum(np.round(exact * LOSS_UNIT), 0).astype(np.int64)
            self._loss[milli] = table
        return table


class PackingDelta(FragmentationDelta):
    """FGD's fractional scores with each GPU's packing loss ranked first."""

    def __init__(self, target: TargetWorkload | None) -> None:
        super().__init__(target)
        self.prices = PackingPrices(self.target)

    def fractional(
        self, state: ClusterState, nodes: Int, request: PlacementRequest
    ) -> tuple[Int, Int]:
        t = self.target
        return kernels.fgd_fractional_penalised(
            state.gpu_free, state.cpu_free, nodes, request.gpu_milli, request.cpu_milli,
            LOSS_STEP * self.prices.loss(request.gpu_milli), self.allowed(state),
            t.gpu_milli, t.num_gpu, t.cpu_milli, t.popularity,
        )  # fmt: skip


@register("fgd-pack")
class FgdPack(FgdBalance):
    def __init__(self, context: StrategyContext) -> None:
        super().__init__(context)
        self.delta = PackingDelta(context.target)
