"""The plan report's capacity layers, on a hand-built plan whose layers are worked out by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gpufleet.domain.offer import ContractKind
from gpufleet.planning.assemble import Assembled
from gpufleet.planning.build import BuiltOptions
from gpufleet.planning.milp import Order, ProcurementPlan
from gpufleet.planning.problem import PlanningProblem
from gpufleet.planning.scenario_file import parse_scenario
from gpufleet.planning.study import Study
from gpufleet.reports.plan_report import capacity_by_kind

from factories import make_option

MONTH = 730.0
SCENARIO = """\
format: gpufleet-scenario/v1
period: month
horizon: 5
demand:
  projects:
    - {project: train, expected: 20}
"""


option = make_option


def study_of(
    problem: PlanningProblem, orders: tuple[Order, ...], flexible: dict[str, np.ndarray]
) -> tuple[Assembled, Study]:
    plan = ProcurementPlan(
        orders=orders,
        flexible_unit_hours=flexible,
        committed_cost_usd=0.0,
        expected_cost_usd=0.0,
        cost_per_scenario_usd=np.zeros(1),
        unmet_gpu_hours=np.zeros((1, problem.periods)),
        status="optimal",
        mip_gap=0.0,
        solve_s=0.0,
    )
    scenario = parse_scenario(SCENARIO, Path("s.yaml"))
    assembled = Assembled(scenario, problem, problem, BuiltOptions(problem.options))
    return assembled, Study(plan, (), ())


def test_capacity_by_kind_stacks_orders_rentals_and_the_existing_fleet() -> None:
    colo = option("colo", ContractKind.RESERVED, gpus_per_unit=8, term_periods=3, reliability=0.9)
    cloud = option("cloud", ContractKind.ON_DEMAND, efficiency=0.5)
    market = option("market", ContractKind.SPOT)
    problem = PlanningProblem(
        period_hours=np.full(5, MONTH),
        options=(colo, cloud, market),
        demand=np.full((1, 5), 20 * MONTH),
        existing_h100=np.array([4.0, 4.0, 0.0, 0.0, 0.0]),
    )
    orders = (
        Order("colo", "colo", start_period=1, units=2, term_periods=3, cost_usd=0.0),
        Order("colo", "colo", start_period=3, units=1, term_periods=3, cost_usd=0.0),  # past T
    )
    flexible = {
        "cloud": np.array([0.0, 1.0, 2.0, 0.0, 0.5]) * MONTH,  # unit-hours: 1 GPU for a month
        "market": np.zeros(5),
    }
    layers = capacity_by_kind(*study_of(problem, orders, flexible))
    assert next(iter(layers)) == "existing"  # the fleet at the bottom of the stack
    assert set(layers) == {"existing", "reserved", "on_demand", "spot"}
    np.testing.assert_allclose(layers["existing"], [4, 4, 0, 0, 0])
    # 2 units x 8 GPUs x 0.9 reliability in periods 1-3; one more unit from period 3, cut at
    # the horizon.
    np.testing.assert_allclose(layers["reserved"], [0, 14.4, 14.4, 14.4 + 7.2, 7.2])
    # Unit-hours over the period's hours, at half an H100 per GPU.
    np.testing.assert_allclose(layers["on_demand"], [0, 0.5, 1.0, 0, 0.25])
    np.testing.assert_allclose(layers["spot"], np.zeros(5))
    assert problem.existing_h100 is not None
    np.testing.assert_allclose(problem.existing_h100, [4, 4, 0, 0, 0])  # not changed in place


def test_a_plan_that_buys_and_rents_nothing_has_no_layers() -> None:
    cloud = option("cloud", ContractKind.ON_DEMAND)
    problem = PlanningProblem(
        period_hours=np.full(2, MONTH), options=(cloud,), demand=np.zeros((1, 2))
    )
    assert capacity_by_kind(*study_of(problem, (), {})) == {}
