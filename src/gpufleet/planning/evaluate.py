"""Strategies compared on the same demand: our plan, the baselines, and the perfect-foresight bound.

A *strategy* is a set of committed purchases plus the options it may rent from. It is judged
out of sample: on scenarios drawn with another seed than the ones it was planned on, its
purchases are fixed and only the recourse (renting, or leaving demand unmet) is optimised.

Baselines (issue 4):

* ``all-on-demand`` — no commitments, every hour rented on demand at the cheapest offer that has
  capacity (the recourse LP picks the cheapest);
* ``single-cheapest-supplier`` — the naive strategy: rent on demand from the one supplier whose
  on-demand H100-equivalent hour is cheapest, and from no one else (when no one rents on demand:
  contract the supplier whose committed H100-equivalent hour is cheapest — the bigger unit on a
  tie, as a naive buyer would — for the peak demand of each term);
* ``reserve-base-load`` — commit to the ``percentile`` of demand that is always there (the lowest
  per-period percentile across the horizon) with the cheapest committed option, rent the rest on
  demand;
* ``perfect-foresight`` — for each scenario the optimum that knows it in advance: a bound no real
  plan can beat.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from gpufleet.domain.offer import ContractKind
from gpufleet.planning.milp import Order, contract_cost_usd, plan, unit_cost_usd
from gpufleet.planning.problem import CapacityOption, PlanningProblem


@dataclass(frozen=True, slots=True)
class Strategy:
    name: str
    orders: tuple[Order, ...]
    rentable: frozenset[str] | None = None
    """Names of the flexible options it may rent from (``None``: all)."""


@dataclass(frozen=True, slots=True)
class Evaluation:
    name: str
    expected_cost_usd: float
    p95_cost_usd: float
    shortfall_probability: float
    expected_unmet_gpu_hours: float
    committed_usd_per_supplier: dict[str, float]
    cost_per_scenario_usd: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    status: str = "optimal"


def _restricted(problem: PlanningProblem, rentable: frozenset[str] | None) -> PlanningProblem:
    if rentable is None:
        return problem
    keep = tuple(o for o in problem.options if o.committed or o.name in rentable)
    return dataclasses.replace(problem, options=keep)


def evaluate(strategy: Strategy, scenarios: PlanningProblem) -> Evaluation:
    """Cost and risk of a strategy on ``scenarios`` (its purchases fixed, recourse optimised)."""
    result = plan(_restricted(scenarios, strategy.rentable), fixed_orders=strategy.orders)
    exposure: dict[str, float] = {}
    for order in strategy.orders:
        exposure[order.supplier] = exposure.get(order.supplier, 0.0) + order.cost_usd
    return Evaluation(
        name=strategy.name,
        expected_cost_usd=result.expected_cost_usd,
        p95_cost_usd=float(np.percentile(result.cost_per_scenario_usd, 95)),
        shortfall_probability=result.shortfall_probability,
        expected_unmet_gpu_hours=float(
            scenarios.probabilities @ result.unmet_gpu_hours.sum(axis=1)
        ),
        committed_usd_per_supplier=exposure,
        cost_per_scenario_usd=result.cost_per_scenario_usd,
        status=result.status,
    )


def _on_demand(problem: PlanningProblem) -> list[CapacityOption]:
    return [o for o in problem.options if o.contract is ContractKind.ON_DEMAND]


def all_on_demand(problem: PlanningProblem) -> Strategy:
    return Strategy("all-on-demand", (), frozenset(o.name for o in _on_demand(problem)))


def single_cheapest_supplier(problem: PlanningProblem) -> Strategy:
    name = "single-cheapest-supplier"
    hours = float(problem.period_hours.mean())
    offers = _on_demand(problem)
    if offers:
        supplier = min(offers, key=lambda o: o.usd_per_h100_hour(hours)).supplier
        return Strategy(name, (), frozenset(o.name for o in offers if o.supplier == supplier))
    committed = [o for o in problem.options if o.committed]
    if not committed:
        return Strategy(name, (), frozenset())
    best = min(committed, key=lambda o: (round(o.usd_per_h100_hour(hours), 9), -o.h100_per_unit))
    peak = np.max(problem.net_demand / problem.period_hours, axis=0)
    return Strategy(name, tuple(_cover(problem, best, peak, math.ceil)), frozenset())


def _cover(
    problem: PlanningProblem,
    option: CapacityOption,
    gpus: NDArray[np.float64],
    rounding: Callable[[float], int],
) -> list[Order]:
    """Back-to-back terms of ``option`` from its lead time on, each sized for the most
    H100-equivalent GPUs ``gpus`` asks for during it (rounded by ``rounding``), within capacity;
    a term needing fewer than the minimum order buys nothing."""
    per_unit = option.h100_per_unit * option.reliability
    orders = []
    for start in range(option.lead_periods, problem.periods, option.term_periods):
        need = float(np.max(gpus[start : start + option.term_periods]))
        units = rounding(round(need / per_unit, 9))
        if option.max_units is not None:
            units = min(units, int(option.max_units))
        if units < option.min_units or units <= 0:
            continue
        cost = units * contract_cost_usd(problem, option, start)
        orders.append(Order(option.name, option.supplier, start, units, option.term_periods, cost))
    return orders


def _horizon_price(problem: PlanningProblem, option: CapacityOption) -> float:
    """What a delivered H100-equivalent hour of ``option`` costs the plan when started as early
    as it can be, counting only the hours inside the horizon."""
    start = min(option.lead_periods, problem.periods - 1)
    hours = float(problem.period_hours[start : start + option.term_periods].sum())
    delivered = hours * option.h100_per_unit * option.reliability
    return unit_cost_usd(problem, option, start) / delivered


def reserve_base_load(problem: PlanningProblem, percentile: float = 10.0) -> Strategy:
    """Commit to the demand that is nearly always there; rent the rest on demand."""
    committed = [o for o in problem.options if o.committed]
    rent = frozenset(o.name for o in _on_demand(problem))
    name = f"reserve-base-load-p{percentile:g}"
    if not committed:
        return Strategy(name, (), rent)
    best = min(committed, key=lambda o: _horizon_price(problem, o))
    base_gpus = float(
        np.min(np.percentile(problem.net_demand / problem.period_hours, percentile, axis=0))
    )
    flat = np.full(problem.periods, base_gpus)
    return Strategy(name, tuple(_cover(problem, best, flat, math.floor)), rent)


def perfect_foresight(
    scenarios: PlanningProblem,
    *,
    mip_gap: float = 0.01,
    time_limit_s: float = 60.0,
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Per scenario, the best plan knowing that scenario's demand: a lower bound on any plan
    (up to each solve's MIP gap). ``progress(done, total)`` is called after each scenario."""
    costs, unmet = [], []
    for s in range(scenarios.scenarios):
        one = scenarios.only_scenario(s)
        result = plan(one, mip_gap=mip_gap, time_limit_s=time_limit_s)
        costs.append(result.expected_cost_usd)
        unmet.append(float(result.unmet_gpu_hours.sum()))
        if progress is not None:
            progress(s + 1, scenarios.scenarios)
    cost = np.array(costs)
    return Evaluation(
        name="perfect-foresight",
        expected_cost_usd=float(scenarios.probabilities @ cost),
        p95_cost_usd=float(np.percentile(cost, 95)),
        shortfall_probability=float(scenarios.probabilities @ (np.array(unmet) > 1e-6)),
        expected_unmet_gpu_hours=float(scenarios.probabilities @ np.array(unmet)),
        committed_usd_per_supplier={},
        cost_per_scenario_usd=cost,
    )


def baselines(problem: PlanningProblem, *, percentile: float = 10.0) -> list[Strategy]:
    """The baselines of the issue, built from the in-sample problem."""
    return [
        all_on_demand(problem),
        single_cheapest_supplier(problem),
        reserve_base_load(problem, percentile),
    ]


def compare(
    in_sample: PlanningProblem, out_of_sample: PlanningProblem, *, percentile: float = 10.0
) -> tuple[list[Evaluation], Sequence[Order]]:
    """Plan on ``in_sample``; evaluate the plan and every baseline on ``out_of_sample``."""
    ours = plan(in_sample)
    strategies = [
        Strategy("gpufleet-plan", ours.orders),
        *baselines(in_sample, percentile=percentile),
    ]
    rows = [evaluate(s, out_of_sample) for s in strategies]
    rows.append(perfect_foresight(out_of_sample))
    return rows, ours.orders
