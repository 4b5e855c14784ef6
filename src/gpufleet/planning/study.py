"""A planning study: plan on the in-sample scenarios, then judge the plan, every baseline and the
perfect-foresight bound on fresh out-of-sample scenarios. What ``gpufleet plan`` runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from gpufleet.planning.evaluate import (
    Evaluation,
    Strategy,
    baselines,
    evaluate,
    perfect_foresight,
)
from gpufleet.planning.milp import ProcurementPlan, plan
from gpufleet.planning.problem import PlanningProblem

OURS = "gpufleet-plan"
BOUND = "perfect-foresight"


@dataclass(frozen=True, slots=True)
class Study:
    plan: ProcurementPlan
    """The plan, as solved on the in-sample scenarios."""
    evaluations: tuple[Evaluation, ...]
    """Ours first, then the baselines, then the bound — all on the out-of-sample scenarios."""
    strategies: tuple[Strategy, ...]

    def row(self, name: str) -> Evaluation:
        return next(e for e in self.evaluations if e.name == name)

    @property
    def ours(self) -> Evaluation:
        return self.row(OURS)

    @property
    def bound(self) -> Evaluation:
        return self.row(BOUND)

    @property
    def gap_to_bound(self) -> float:
        """Our expected cost over the bound's, minus one (0.05 = 5% above the bound); 0 when
        both cost nothing (the existing fleet covers the demand)."""
        ours, bound = self.ours.expected_cost_usd, self.bound.expected_cost_usd
        if bound <= 0:
            return 0.0 if ours <= 1e-9 else math.inf
        return ours / bound - 1

    @property
    def beats_every_baseline(self) -> bool:
        """Cheaper in expectation than every baseline, at an equal or lower shortfall risk."""
        ours = self.ours
        return all(
            ours.expected_cost_usd < e.expected_cost_usd
            and ours.shortfall_probability <= e.shortfall_probability + 1e-12
            for e in self.evaluations
            if e.name not in (OURS, BOUND)
        )


Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``; ``total`` 0 while the size of a stage is unknown."""


def run_study(
    in_sample: PlanningProblem,
    out_of_sample: PlanningProblem,
    *,
    mip_gap: float = 0.01,
    time_limit_s: float = 120.0,
    percentile: float = 10.0,
    progress: Progress | None = None,
) -> Study:
    def tell(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(stage, done, total)

    tell("solving the plan", 0, 0)
    ours = plan(in_sample, mip_gap=mip_gap, time_limit_s=time_limit_s)
    strategies = (Strategy(OURS, ours.orders), *baselines(in_sample, percentile=percentile))
    rows = []
    for i, strategy in enumerate(strategies):
        tell("evaluating strategies out of sample", i, len(strategies))
        rows.append(evaluate(strategy, out_of_sample))
    tell("evaluating strategies out of sample", len(strategies), len(strategies))
    bound = perfect_foresight(
        out_of_sample,
        mip_gap=mip_gap,
        time_limit_s=time_limit_s,
        progress=lambda done, total: tell("perfect-foresight bound", done, total),
    )
    return Study(ours, (*rows, bound), strategies)
