"""Why a plan leaves demand unmet: the binding constraints, in words (``diagnose``).

Read from a solved model's column values (``milp._Columns`` says where each decision lives):
the budget, supplier capacity, the per-supplier share cap, lead times with nothing to rent, or
an unmet-demand penalty below the cheapest capacity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from gpufleet.planning.problem import PlanningProblem

if TYPE_CHECKING:
    from gpufleet.planning.milp import _Columns

_TOL = 1e-6


def diagnose(
    problem: PlanningProblem, cols: _Columns, values: NDArray[np.float64]
) -> tuple[str, ...]:
    """Name what keeps demand unmet: per cause, the periods where it binds in scenarios that
    fall short. Causes: the budget, supplier capacity, the per-supplier share, lead times (no
    committed option available yet and flexible capacity exhausted), and an unmet-demand penalty
    below the cheapest capacity."""
    unmet = values[cols.unmet].sum(axis=1)
    short = unmet > 1e-6 * max(1.0, float(problem.demand.max()))
    if not short.any():
        return ()
    causes: dict[str, list[int]] = {}

    def note(cause: str, t: int) -> None:
        periods = causes.setdefault(cause, [])
        if t not in periods:
            periods.append(t)

    hours = problem.period_hours
    cheapest = min(o.usd_per_h100_hour(float(hours.mean())) for o in problem.options)
    for s, t in zip(*(idx.tolist() for idx in np.nonzero(short)), strict=True):
        spend = sum(values[c] * v for c, v in cols.spend[(t, s)])
        budget = None if problem.budget_usd is None else float(problem.budget_usd[t])
        if budget is not None and spend >= budget * (1 - 1e-6) - _TOL:
            note(f"the budget (${budget:,.0f} per period)", t)
        if _capacity_exhausted(problem, cols, values, t, s):
            note("every supplier's capacity", t)
        share = problem.max_supplier_share
        if share is not None and share < 1:
            total = sum(values[c] * v for c, v, _ in cols.delivered[(t, s)])
            for supplier in problem.suppliers:
                mine = sum(values[c] * v for c, v, who in cols.delivered[(t, s)] if who == supplier)
                if mine >= share * total * (1 - 1e-6) - _TOL:
                    note(f"the {share:.0%} cap on one supplier's share ({supplier})", t)
        if any(o.committed and o.lead_periods > t for o in problem.options) and not any(
            not o.committed for o in problem.options
        ):
            note("lead times (no committed capacity can start yet, nothing to rent)", t)
    if cheapest > problem.unmet_penalty_usd_per_gpu_hour:
        causes[
            f"the unmet-demand penalty (${problem.unmet_penalty_usd_per_gpu_hour:g}/GPU-hour) "
            f"is below the cheapest capacity (${cheapest:.2f} per H100-hour)"
        ] = []
    if not causes:
        causes["the unmet-demand penalty: meeting this demand costs more than leaving it"] = []
    return tuple(
        f"{cause}: binds in periods {_ranges(sorted(periods))}" if periods else cause
        for cause, periods in causes.items()
    )


def _capacity_exhausted(
    problem: PlanningProblem, cols: _Columns, values: NDArray[np.float64], t: int, s: int
) -> bool:
    for k, o in enumerate(problem.options):
        if o.committed:
            if (k, t) in cols.active and (
                o.max_units is None or values[cols.active[(k, t)]] < o.max_units - 0.5
            ):
                return False
        elif (k, t, s) in cols.use:
            if o.max_units is None:
                return False
            cap = o.availability * o.max_units * float(problem.period_hours[t])
            if values[cols.use[(k, t, s)]] < cap * (1 - 1e-6):
                return False
    return True


def _ranges(periods: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``0-2, 5``."""
    spans: list[list[int]] = []
    for t in periods:
        if spans and t == spans[-1][1] + 1:
            spans[-1][1] = t
        else:
            spans.append([t, t])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)
