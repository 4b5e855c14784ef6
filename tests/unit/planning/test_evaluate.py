"""Baselines, the perfect-foresight bound and out-of-sample evaluation, on hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pytest

from gpufleet.domain.offer import ContractKind
from gpufleet.planning.evaluate import (
    Strategy,
    all_on_demand,
    compare,
    evaluate,
    perfect_foresight,
    reserve_base_load,
    single_cheapest_supplier,
)
from gpufleet.planning.milp import Order, plan
from gpufleet.planning.problem import CapacityOption, PlanningProblem

MONTH = 730.0


def option(
    name: str, supplier: str, contract: ContractKind, price: float, **fields: object
) -> CapacityOption:
    return CapacityOption(
        name=name, supplier=supplier, gpus_per_unit=1.0, contract=contract,
        price_usd_per_unit_hour=price, **fields,  # type: ignore[arg-type]
    )  # fmt: skip


OPTIONS = (
    option("cheap-cloud", "cheap", ContractKind.ON_DEMAND, 2.0, max_units=4),
    option("big-cloud", "big", ContractKind.ON_DEMAND, 3.0),
    option("colo-1y", "colo", ContractKind.RESERVED, 1.5, term_periods=12),
)


def problem(demand_gpus: np.ndarray) -> PlanningProblem:
    return PlanningProblem(
        period_hours=np.full(demand_gpus.shape[1], MONTH),
        options=OPTIONS,
        demand=demand_gpus * MONTH,
    )


def test_all_on_demand_rents_the_cheapest_first() -> None:
    flat = problem(np.full((1, 12), 6.0))  # 6 GPUs: 4 from the cheap cloud, 2 from the big one
    result = evaluate(all_on_demand(flat), flat)
    assert result.expected_cost_usd == pytest.approx((4 * 2.0 + 2 * 3.0) * MONTH * 12)
    assert result.shortfall_probability == 0


def test_the_naive_single_supplier_runs_short() -> None:
    flat = problem(np.full((1, 12), 6.0))
    naive = single_cheapest_supplier(flat)
    assert naive.rentable == frozenset({"cheap-cloud"})
    result = evaluate(naive, flat)
    assert result.shortfall_probability == 1.0
    assert result.expected_unmet_gpu_hours == pytest.approx(2 * MONTH * 12)


def test_reserve_base_load_commits_the_floor_of_demand() -> None:
    # Demand alternates 4 and 8 GPUs: the base load is 4 GPUs, reserved for the year.
    demand = np.array([[4.0, 8.0] * 6])
    strategy = reserve_base_load(problem(demand), percentile=50)
    assert [(o.option, o.start_period, o.units) for o in strategy.orders] == [("colo-1y", 0, 4)]
    result = evaluate(strategy, problem(demand))
    rented = 6 * 4 * 2.0 * MONTH  # the six 8-GPU months: 4 more GPUs from the cheap cloud
    assert result.expected_cost_usd == pytest.approx(4 * 1.5 * MONTH * 12 + rented)


def test_perfect_foresight_bounds_every_plan_and_our_plan_beats_the_baselines() -> None:
    rng = np.random.default_rng(7)
    train = problem(rng.uniform(4, 10, size=(30, 12)))
    test = problem(rng.uniform(4, 10, size=(30, 12)))
    rows, orders = compare(train, test, percentile=10)
    by = {r.name: r for r in rows}
    ours = by["gpufleet-plan"]
    assert orders
    assert by["perfect-foresight"].expected_cost_usd <= ours.expected_cost_usd + 1e-6
    for name in ("all-on-demand", "single-cheapest-supplier", "reserve-base-load-p10"):
        assert ours.expected_cost_usd <= by[name].expected_cost_usd + 1e-6, name
    assert ours.shortfall_probability <= by["single-cheapest-supplier"].shortfall_probability


def test_fixed_orders_must_match_the_problem() -> None:
    flat = problem(np.full((1, 12), 6.0))
    with pytest.raises(ValueError, match="fits no committed option"):
        plan(flat, fixed_orders=[Order("nope", "x", 0, 1, 12, 0.0)])
    fixed = plan(flat, fixed_orders=[Order("colo-1y", "colo", 0, 6, 12, 0.0)])
    assert fixed.committed_cost_usd == pytest.approx(6 * 1.5 * MONTH * 12)
    assert fixed.expected_cost_usd == pytest.approx(fixed.committed_cost_usd)


def test_a_strategy_may_be_restricted_to_some_rentals() -> None:
    flat = problem(np.full((1, 1), 1.0))
    result = evaluate(Strategy("big-only", (), frozenset({"big-cloud"})), flat)
    assert result.expected_cost_usd == pytest.approx(3.0 * MONTH)
    assert perfect_foresight(flat).expected_cost_usd == pytest.approx(2.0 * MONTH)
