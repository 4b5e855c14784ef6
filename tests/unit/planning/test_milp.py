"""The procurement MILP on cases whose optimum can be worked out by hand, and its invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpufleet.domain.offer import ContractKind
from gpufleet.planning.milp import Order, ProcurementPlan, plan
from gpufleet.planning.problem import CapacityOption, PlanningProblem

from factories import make_option

MONTH = 730.0


option = make_option


def test_the_textbook_case_picks_the_smaller_contract() -> None:
    # 8 GPU-hours a day for two 30-day months = 240 GPU-hours a month. Supplier A: 2 GPUs for
    # $1,000 a month; B: 4 GPUs for $2,000. One A unit gives 1,440 GPU-hours a month: plenty.
    a = option("A", ContractKind.RESERVED, gpus_per_unit=2, price_usd_per_unit_hour=1000 / 720)
    b = option("B", ContractKind.RESERVED, gpus_per_unit=4, price_usd_per_unit_hour=2000 / 720)
    problem = PlanningProblem(
        period_hours=np.array([720.0, 720.0]), options=(a, b), demand=np.array([[240.0, 240.0]])
    )
    result = plan(problem)
    assert result.status == "optimal"
    assert [(o.option, o.start_period, o.units) for o in result.orders] == [
        ("A", 0, 1),
        ("A", 1, 1),
    ]
    assert result.expected_cost_usd == pytest.approx(2000.0)
    assert result.shortfall_probability == 0


def test_flat_demand_is_reserved_not_rented() -> None:
    # 8 GPUs all year. A 12-month reservation of 8 GPUs at $1.85/GPU-h beats on-demand at $3.00.
    reserved = option(
        "colo",
        ContractKind.RESERVED,
        gpus_per_unit=8,
        price_usd_per_unit_hour=8 * 1.85,
        term_periods=12,
    )
    on_demand = option("cloud", ContractKind.ON_DEMAND, price_usd_per_unit_hour=3.0)
    problem = PlanningProblem(
        period_hours=np.full(12, MONTH),
        options=(reserved, on_demand),
        demand=np.full((1, 12), 8 * MONTH),
    )
    result = plan(problem)
    assert [(o.option, o.start_period, o.units) for o in result.orders] == [("colo", 0, 1)]
    assert result.expected_cost_usd == pytest.approx(8 * 1.85 * MONTH * 12)
    assert result.flexible_unit_hours["cloud"].sum() == pytest.approx(0.0, abs=1e-6)


def test_lead_time_is_bridged_with_on_demand() -> None:
    reserved = option(
        "colo",
        ContractKind.RESERVED,
        gpus_per_unit=8,
        price_usd_per_unit_hour=8.0,
        term_periods=6,
        lead_periods=2,
    )
    on_demand = option("cloud", ContractKind.ON_DEMAND, price_usd_per_unit_hour=3.0)
    problem = PlanningProblem(
        period_hours=np.full(6, MONTH),
        options=(reserved, on_demand),
        demand=np.full((1, 6), 8 * MONTH),
    )
    result = plan(problem)
    assert all(o.start_period >= 2 for o in result.orders)
    rented = result.flexible_unit_hours["cloud"]
    assert rented[:2] == pytest.approx([8 * MONTH, 8 * MONTH])
    assert rented[2:] == pytest.approx([0, 0, 0, 0], abs=1e-6)


def test_demand_beyond_every_supplier_is_reported_as_unmet() -> None:
    capped = option(
        "colo", ContractKind.RESERVED, gpus_per_unit=8, price_usd_per_unit_hour=8.0, max_units=1
    )
    problem = PlanningProblem(
        period_hours=np.array([MONTH]), options=(capped,), demand=np.array([[16 * MONTH]]),
        unmet_penalty_usd_per_gpu_hour=100.0,
    )  # fmt: skip
    result = plan(problem)
    assert result.orders[0].units == 1
    assert result.unmet_gpu_hours.sum() == pytest.approx(8 * MONTH)
    assert result.shortfall_probability == 1.0


def test_minimum_orders_are_respected() -> None:
    # One GPU needed; the colo sells at least 4 at $1/h, the cloud one at $3/h: renting wins.
    colo = option("colo", ContractKind.RESERVED, min_units=4, price_usd_per_unit_hour=1.0)
    cloud = option("cloud", ContractKind.ON_DEMAND, price_usd_per_unit_hour=3.0)
    problem = PlanningProblem(
        period_hours=np.array([MONTH]), options=(colo, cloud), demand=np.array([[MONTH]])
    )
    result = plan(problem)
    assert result.orders == ()
    assert result.expected_cost_usd == pytest.approx(3.0 * MONTH)


def test_risk_aversion_buys_more_for_the_bad_scenario() -> None:
    reserved = option("colo", ContractKind.RESERVED, price_usd_per_unit_hour=2.0)
    spot = option("cloud", ContractKind.ON_DEMAND, price_usd_per_unit_hour=9.0)
    demand = np.array([[2 * MONTH], [10 * MONTH]])
    kwargs = {"period_hours": np.array([MONTH]), "options": (reserved, spot), "demand": demand,
              "probabilities": np.array([0.9, 0.1])}  # fmt: skip
    neutral = plan(PlanningProblem(**kwargs))  # type: ignore[arg-type]
    averse = plan(PlanningProblem(**kwargs, cvar_alpha=0.9, cvar_weight=1.0))  # type: ignore[arg-type]
    units = lambda p: sum(o.units for o in p.orders)  # noqa: E731
    assert units(neutral) == 2  # the 10% scenario is cheaper to rent for
    assert units(averse) > units(neutral)
    assert averse.cost_per_scenario_usd.max() < neutral.cost_per_scenario_usd.max()


def _active(result: ProcurementPlan, problem: PlanningProblem, name: str) -> np.ndarray:
    active = np.zeros(problem.periods)
    for order in result.orders:
        if order.option == name:
            active[order.start_period : order.start_period + order.term_periods] += order.units
    return active


@settings(max_examples=25, deadline=None)
@given(
    periods=st.integers(1, 6),
    lead=st.integers(0, 3),
    term=st.integers(1, 4),
    cap=st.integers(0, 3),
    demand=st.lists(st.integers(0, 40), min_size=6, max_size=6),
)
def test_plans_keep_capacity_lead_time_and_terms(
    periods: int, lead: int, term: int, cap: int, demand: list[int]
) -> None:
    reserved = option("colo", ContractKind.RESERVED, gpus_per_unit=4, price_usd_per_unit_hour=4.0,
                      term_periods=term, lead_periods=lead, max_units=cap)  # fmt: skip
    cloud = option("cloud", ContractKind.ON_DEMAND, price_usd_per_unit_hour=2.5, max_units=10)
    problem = PlanningProblem(period_hours=np.full(periods, 100.0), options=(reserved, cloud),
                              demand=np.array([demand[:periods]], dtype=float) * 100)  # fmt: skip
    result = plan(problem)
    active = _active(result, problem, "colo")
    assert (active <= cap).all()  # never more than the supplier has
    assert all(o.start_period >= lead and o.term_periods == term for o in result.orders)
    assert (result.flexible_unit_hours["cloud"] <= 10 * 100 + 1e-6).all()
    supplied = active * 4 * 100 + result.flexible_unit_hours["cloud"] + result.unmet_gpu_hours[0]
    assert (supplied >= problem.demand[0] - 1e-6).all()  # demand met or reported unmet


def test_a_budget_too_small_leaves_shortfall_and_names_the_budget() -> None:
    # 10 GPUs on demand at $2/h for a month cost $14,600; the budget allows $7,300: 5 GPUs.
    cloud = option("cloud", ContractKind.ON_DEMAND, price_usd_per_unit_hour=2.0)
    problem = PlanningProblem(
        period_hours=np.array([MONTH]), options=(cloud,), demand=np.array([[10 * MONTH]]),
        budget_usd=np.array([7300.0]),
    )  # fmt: skip
    result = plan(problem)
    assert result.unmet_gpu_hours.sum() == pytest.approx(5 * MONTH)
    assert result.expected_cost_usd - 50.0 * 5 * MONTH == pytest.approx(7300.0)
    assert any("budget ($7,300 per period)" in d and "periods 0" in d for d in result.diagnosis)


def test_the_budget_counts_upfront_payments_in_their_start_period() -> None:
    # Owning costs $2,000 up front and $0.5/h ($2,730 for 2 months): cheaper than renting at
    # $3/h ($4,380), but month 0's budget of $2,200 cannot pay $2,365, so month 0 is rented.
    owned = option(
        "own", ContractKind.OWNED, price_usd_per_unit_hour=0.5, upfront_usd_per_unit=2000.0,
        term_periods=2,
    )  # fmt: skip
    cloud = option("cloud", ContractKind.ON_DEMAND, price_usd_per_unit_hour=3.0)
    free = PlanningProblem(
        period_hours=np.full(2, MONTH), options=(owned, cloud), demand=np.full((1, 2), MONTH)
    )
    assert [o.option for o in plan(free).orders] == ["own"]
    tight = PlanningProblem(
        period_hours=np.full(2, MONTH), options=(owned, cloud), demand=np.full((1, 2), MONTH),
        budget_usd=np.array([2200.0, np.inf]),
    )  # fmt: skip
    result = plan(tight)
    assert all(o.start_period == 1 or o.option != "own" for o in result.orders)
    assert result.unmet_gpu_hours.sum() == pytest.approx(0.0, abs=1e-6)


def test_a_supplier_share_cap_spreads_capacity() -> None:
    cheap = option("cheap", ContractKind.ON_DEMAND, price_usd_per_unit_hour=1.0)
    dear = option("dear", ContractKind.ON_DEMAND, price_usd_per_unit_hour=2.0)
    base = {"period_hours": np.array([MONTH]), "options": (cheap, dear),
            "demand": np.array([[10 * MONTH]])}  # fmt: skip
    alone = plan(PlanningProblem(**base))  # type: ignore[arg-type]
    assert alone.flexible_unit_hours["dear"].sum() == pytest.approx(0.0, abs=1e-6)
    spread = plan(PlanningProblem(**base, max_supplier_share=0.6))  # type: ignore[arg-type]
    assert spread.flexible_unit_hours["cheap"][0] == pytest.approx(6 * MONTH)
    assert spread.flexible_unit_hours["dear"][0] == pytest.approx(4 * MONTH)


def test_a_share_cap_with_one_supplier_is_diagnosed() -> None:
    cloud = option("cloud", ContractKind.ON_DEMAND)
    problem = PlanningProblem(
        period_hours=np.array([MONTH]), options=(cloud,), demand=np.array([[MONTH]]),
        max_supplier_share=0.5,
    )  # fmt: skip
    result = plan(problem)
    assert result.shortfall_probability == 1.0
    assert any("share" in d and "cloud" in d for d in result.diagnosis)


def test_the_existing_fleet_is_used_before_buying() -> None:
    cloud = option("cloud", ContractKind.ON_DEMAND, price_usd_per_unit_hour=2.0)
    problem = PlanningProblem(
        period_hours=np.full(2, MONTH), options=(cloud,), demand=np.full((1, 2), 10 * MONTH),
        existing_h100=np.array([10.0, 4.0]),
    )  # fmt: skip
    result = plan(problem)
    assert result.flexible_unit_hours["cloud"] == pytest.approx([0.0, 6 * MONTH], abs=1e-6)


def test_capacity_shortfall_and_low_penalty_are_diagnosed() -> None:
    capped = option("cloud", ContractKind.ON_DEMAND, max_units=2.0)
    result = plan(
        PlanningProblem(
            period_hours=np.full(3, MONTH), options=(capped,), demand=np.full((1, 3), 4 * MONTH)
        )
    )
    assert result.diagnosis == ("every supplier's capacity: binds in periods 0-2",)
    dear = option("cloud", ContractKind.ON_DEMAND, price_usd_per_unit_hour=80.0)
    result = plan(
        PlanningProblem(period_hours=np.array([MONTH]), options=(dear,), demand=np.array([[MONTH]]))
    )
    assert any("penalty ($50/GPU-hour) is below" in d for d in result.diagnosis)


def test_fixed_orders_beyond_capacity_are_an_error_not_a_solver_status() -> None:
    capped = option("colo", ContractKind.RESERVED, max_units=2.0, term_periods=2)
    problem = PlanningProblem(
        period_hours=np.full(2, MONTH), options=(capped,), demand=np.full((1, 2), MONTH)
    )
    orders = [Order("colo", "colo", 0, 2, 2, 0.0), Order("colo", "colo", 1, 1, 2, 0.0)]
    with pytest.raises(ValueError, match=r"hold 3 units in period 1; .* capacity is 2"):
        plan(problem, fixed_orders=orders)


def test_spot_covers_at_most_its_availability_share_of_demand() -> None:
    # Spot at $1 is available 60% of the time: it serves 60% of the demand, on demand the rest.
    spot = option("cloud-spot", ContractKind.SPOT, availability=0.6)
    on_demand = option("cloud", ContractKind.ON_DEMAND, price_usd_per_unit_hour=3.0)
    problem = PlanningProblem(
        period_hours=np.array([MONTH]), options=(spot, on_demand), demand=np.array([[10 * MONTH]])
    )
    result = plan(problem)
    assert result.flexible_unit_hours["cloud-spot"][0] == pytest.approx(6 * MONTH)
    assert result.flexible_unit_hours["cloud"][0] == pytest.approx(4 * MONTH)


def test_only_the_preemptible_share_of_demand_goes_to_spot() -> None:
    spot = option("cheap-spot", ContractKind.SPOT, price_usd_per_unit_hour=0.5)
    on_demand = option("cloud", ContractKind.ON_DEMAND, price_usd_per_unit_hour=3.0)
    problem = PlanningProblem(
        period_hours=np.array([MONTH]), options=(spot, on_demand), demand=np.array([[10 * MONTH]]),
        max_spot_share=0.3,
    )  # fmt: skip
    result = plan(problem)
    assert result.flexible_unit_hours["cheap-spot"][0] == pytest.approx(3 * MONTH)
    assert result.flexible_unit_hours["cloud"][0] == pytest.approx(7 * MONTH)


def _two_classes(*options: CapacityOption, training: float, inference: float) -> PlanningProblem:
    by_class = np.array([[[training * MONTH], [inference * MONTH]]])
    return PlanningProblem(
        period_hours=np.array([MONTH]), options=options, demand=by_class.sum(axis=1),
        classes=("training", "inference"), class_demand=by_class,
    )  # fmt: skip


def test_demand_classes_follow_the_substitution_matrix() -> None:
    # Training runs only on H100s ($3/h); inference also on L4s, each worth 0.3 H100 for it
    # ($0.5/h: $1.67 per H100-equivalent hour), so inference goes to L4s.
    h100 = option("h100", ContractKind.ON_DEMAND, price_usd_per_unit_hour=3.0,
                  serves={"training": 1.0, "inference": 1.0})  # fmt: skip
    l4 = option("l4", ContractKind.ON_DEMAND, price_usd_per_unit_hour=0.5, efficiency=0.3,
                serves={"inference": 0.3})  # fmt: skip
    result = plan(_two_classes(h100, l4, training=10, inference=6))
    assert result.flexible_unit_hours["h100"][0] == pytest.approx(10 * MONTH)
    assert result.flexible_unit_hours["l4"][0] == pytest.approx(20 * MONTH)
    assert result.unmet_gpu_hours.sum() == pytest.approx(0.0, abs=1e-6)


def test_committed_capacity_is_shared_between_classes_within_its_size() -> None:
    # 16 reserved H100s serve both classes; the 4 GPUs beyond them are rented.
    reserved = option("colo", ContractKind.RESERVED, gpus_per_unit=16, max_units=1.0,
                      price_usd_per_unit_hour=16.0)  # fmt: skip
    cloud = option("cloud", ContractKind.ON_DEMAND, price_usd_per_unit_hour=3.0)
    result = plan(_two_classes(reserved, cloud, training=12, inference=8))
    assert [(o.option, o.units) for o in result.orders] == [("colo", 1)]
    assert result.flexible_unit_hours["cloud"][0] == pytest.approx(4 * MONTH)


def test_a_class_nobody_serves_is_an_error() -> None:
    h100 = option("h100", ContractKind.ON_DEMAND, serves={"training": 1.0})
    with pytest.raises(ValueError, match="every demand class needs an option"):
        _two_classes(h100, training=1, inference=1)
