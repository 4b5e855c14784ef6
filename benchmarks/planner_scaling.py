"""Benchmark: procurement MILP solve time as periods, options and scenarios grow.

Two instance families:

* ``--source catalog`` (default): the startup example (``examples/startup-growth.yaml``) with
  every contract kind allowed: real on-demand and spot offers from ../shared/data/catalog (spot
  availability from the spot traces' pooled figure, 60%), the illustrative reserved and owned
  quotes of ``examples/suppliers``; ``--options`` caps the number of options (the cheapest of
  each kind kept: every committed option, a quarter of the rest spot, then on-demand). Needs
  ../shared/data.
* ``--source synthetic``: a quarter each of on-demand, spot, reserved (13- and 52-week terms) and
  owned options at spread prices, lognormal demand growth (no data needed).

Run: ``.venv/bin/python benchmarks/planner_scaling.py --periods 13 26 52 --options 25 50
--scenarios 20 100``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from gpufleet.domain.offer import ContractKind
from gpufleet.planning.milp import plan
from gpufleet.planning.problem import CapacityOption, PlanningProblem

WEEK = 168.0


def problem(periods: int, options: int, scenarios: int, seed: int = 0) -> PlanningProblem:
    rng = np.random.default_rng(seed)
    kinds = [ContractKind.ON_DEMAND, ContractKind.SPOT, ContractKind.RESERVED, ContractKind.OWNED]
    opts = []
    for i in range(options):
        kind = kinds[i % 4]
        gpus = float(rng.choice([1, 8]))
        per_gpu = {"on_demand": 3.0, "spot": 1.6, "reserved": 2.0, "owned": 1.2}[kind.value]
        per_gpu *= rng.uniform(0.7, 1.3)
        opts.append(
            CapacityOption(
                name=f"o{i}-{kind.value}",
                supplier=f"s{i % 12}",
                gpus_per_unit=gpus,
                contract=kind,
                price_usd_per_unit_hour=per_gpu * gpus,
                upfront_usd_per_unit=30_000.0 * gpus if kind is ContractKind.OWNED else 0.0,
                term_periods={"reserved": int(rng.choice([13, 52])), "owned": 156}.get(
                    kind.value, 1
                ),
                lead_periods={"reserved": 2, "owned": 8}.get(kind.value, 0),
                min_units=int(rng.choice([1, 2])),
                max_units=float(rng.integers(8, 64)),
                availability=0.8 if kind is ContractKind.SPOT else 1.0,
                efficiency=float(rng.choice([1.0, 0.5, 0.35])),
            )
        )
    growth = np.linspace(64, 512, periods) * WEEK
    demand = growth * rng.lognormal(0.0, 0.2, size=(scenarios, periods))
    return PlanningProblem(period_hours=np.full(periods, WEEK), options=tuple(opts), demand=demand)


def catalog_problem(periods: int, options: int, scenarios: int) -> PlanningProblem:
    from gpufleet.catalog.gpus import gpu_table  # noqa: PLC0415 - only this mode needs them
    from gpufleet.cli.plan_commands import scenario_offers  # noqa: PLC0415
    from gpufleet.planning.assemble import assemble  # noqa: PLC0415
    from gpufleet.planning.scenario_file import load_scenario  # noqa: PLC0415

    table = gpu_table()
    path = Path(__file__).resolve().parents[1] / "examples" / "startup-growth.yaml"
    scenario = load_scenario(path, horizon=periods)
    scenario = dataclasses.replace(
        scenario,
        scenarios=scenarios,
        evaluation_scenarios=1,
        offers=dataclasses.replace(
            scenario.offers, contracts=frozenset(ContractKind), max_per_contract=options
        ),
    )
    offers, _ = scenario_offers(scenario, table)
    problem = assemble(
        scenario, offers, table, spot_availability=lambda _offer: (0.6, 0.9)
    ).in_sample
    # Every committed option, then a quarter spot and the rest on demand (cheapest first), so
    # that commitments have something to beat: spot alone could otherwise cover the demand.
    committed = [o for o in problem.options if o.committed]
    spot = [o for o in problem.options if o.contract is ContractKind.SPOT]
    on_demand = [o for o in problem.options if o.contract is ContractKind.ON_DEMAND]
    n_spot = (options - len(committed)) // 4
    kept = (committed + spot[:n_spot] + on_demand)[:options]
    return dataclasses.replace(problem, options=tuple(kept))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", choices=["catalog", "synthetic"], default="catalog")
    parser.add_argument("--periods", type=int, nargs="+", default=[52])
    parser.add_argument("--options", type=int, nargs="+", default=[50])
    parser.add_argument("--scenarios", type=int, nargs="+", default=[100])
    args = parser.parse_args()
    for t in args.periods:
        for k in args.options:
            for s in args.scenarios:
                built = catalog_problem(t, k, s) if args.source == "catalog" else problem(t, k, s)
                kinds = len({o.contract for o in built.options})
                start = time.perf_counter()
                result = plan(built, mip_gap=0.01, time_limit_s=120)
                took = time.perf_counter() - start
                print(
                    f"{args.source}: periods {t:3d} options {len(built.options):3d} "
                    f"({kinds} kinds) scenarios {s:4d}: {took:6.1f} s "
                    f"({result.status}, gap {result.mip_gap:.2%}, {len(result.orders)} orders)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
