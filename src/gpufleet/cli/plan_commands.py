"""``gpufleet plan SCENARIO.yaml``: what to buy, from whom, when — with every baseline beside it.

The command reads what the planner needs (offers, usage history, spot traces), hands it to the
pure planning code (``planning.assemble`` and ``planning.study``), and prints or writes the
result (tables, JSON, purchase orders as CSV, an HTML report).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from numpy.typing import NDArray
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from gpufleet.catalog.gpus import GpuTable, gpu_table
from gpufleet.catalog.problems import CatalogError
from gpufleet.catalog.sources import CatalogSources, default_sources, find_shared_data, load_offers
from gpufleet.cli.budget_commands import plan_from_server
from gpufleet.cli.client import DEFAULT_SERVER
from gpufleet.cli.console import err, fail, out
from gpufleet.cli.job_commands import ServerOption, TokenOption
from gpufleet.domain.offer import ContractKind, Offer
from gpufleet.planning.assemble import EVALUATION_SEED_OFFSET, Assembled, AssemblyError, assemble
from gpufleet.planning.forecast import Forecast, forecast
from gpufleet.planning.scenario_file import Scenario, load_scenario, parse_risk
from gpufleet.planning.scenario_reader import ScenarioError
from gpufleet.planning.spot import SpotEstimate, pool_estimates, useful_fraction
from gpufleet.planning.study import OURS, Study, run_study
from gpufleet.planning.summary import study_summary
from gpufleet.reports.plan_report import write_plan_report
from gpufleet.sim.traces import spot as spot_traces
from gpufleet.sim.traces.openb import TraceError
from gpufleet.sim.traces.usage import UsageHistory, read_openb_history, read_usage_csv

DEFAULT_SPOT_AVAILABILITY = 0.8


def scenario_offers(scenario: Scenario, table: GpuTable) -> tuple[list[Offer], str]:
    """The offers a scenario names (catalog and supplier files), and where they came from."""
    selection = scenario.offers
    shared = find_shared_data(os.environ, Path.cwd())
    if selection.catalog == "none":
        sources = CatalogSources((), selection.supplier_files, builtin=False)
    else:
        sources = default_sources(
            shared,
            supplier_paths=selection.supplier_files,
            builtin=True if selection.catalog == "builtin" else None,
        )
    loaded = load_offers(sources, table)
    catalogs = tuple(str(c) for c in sources.catalogs)
    broken = [p for p in loaded.report.problems if not p.path.startswith(catalogs or ("\0",))]
    if broken:
        # A contract the scenario names must be read whole: a skipped offer changes the plan.
        lines = "\n  ".join(str(p) for p in broken)
        msg = f"{len(broken)} problem(s) in the supplier files this scenario names:\n  {lines}"
        raise AssemblyError(msg)
    described = sources.describe()
    if loaded.report.problems:
        described += f" ({len(loaded.report.problems)} catalog rows could not be read)"
    return loaded.offers, described


def _spot_model(
    scenario: Scenario, table: GpuTable, notes: list[str]
) -> Callable[[Offer], tuple[float, float]] | float:
    """(availability, share of paid hours not lost to preemptions) for each spot offer, from the
    real spot traces: the cloud's own GPU estimate where the traces have one, else all GPU
    traces pooled."""
    if ContractKind.SPOT not in scenario.offers.contracts:
        return DEFAULT_SPOT_AVAILABILITY
    root = spot_traces.find_spot_dir(os.environ, Path.cwd())
    if root is None:
        notes.append(
            f"no spot traces found: spot assumed available {DEFAULT_SPOT_AVAILABILITY:.0%} of "
            "the time, with no preemption losses"
        )
        return DEFAULT_SPOT_AVAILABILITY
    pooled = spot_traces.pool_by_gpu(spot_traces.read_spot_traces(root, table))
    single = [e for e in pooled if e.nodes == 1 and e.gpu is not None]
    if not single:
        return DEFAULT_SPOT_AVAILABILITY
    anonymous = [dataclasses.replace(e, cloud="any", gpu="any") for e in single]
    overall = pool_estimates(anonymous)
    by_cloud: dict[str, SpotEstimate] = {}
    for cloud in {e.cloud for e in single}:
        mine = [dataclasses.replace(e, gpu="any") for e in single if e.cloud == cloud]
        by_cloud[cloud] = pool_estimates(mine)
    overhead = scenario.spot_restart_overhead_hours

    def model(offer: Offer) -> tuple[float, float]:
        estimate = by_cloud.get(offer.supplier, overall)
        useful = useful_fraction(estimate, overhead) / estimate.availability
        return estimate.availability, useful

    notes.append(
        f"spot: availability {overall.availability:.0%} and {overall.preemptions_per_hour:.2f} "
        f"preemptions per hour ({overall.observed_hours:,.0f} h of GPU spot traces, "
        f"{overall.traces} traces; AWS V100/K80 are the only GPUs traced), applied to every "
        f"cloud without its own; each preemption loses {overhead:g} h"
    )
    return model


def _history(
    scenario: Scenario, notes: list[str]
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    spec = scenario.history
    if spec is None:
        return None
    hours = scenario.period_hours
    if spec.usage_csv is not None:
        usage: UsageHistory = read_usage_csv(spec.usage_csv, period_hours=hours)
        source = str(spec.usage_csv)
    else:
        name = (spec.trace or "").removeprefix("openb:")
        shared = find_shared_data(os.environ, Path.cwd())
        if shared is None:
            msg = f"{scenario.path}: demand.history.trace needs the shared data folder"
            raise AssemblyError(msg)
        path = shared / "traces" / "openb" / f"openb_pod_list_{name}.csv"
        usage = read_openb_history(path, period_hours=hours)
        source = str(path)
    series = usage.gpu_hours[spec.skip :] * spec.scale
    runs: list[Forecast] = [
        forecast(
            series,
            scenario.horizon,
            model=spec.model,
            season=spec.season,
            scenarios=count,
            seed=seed,
        )
        for count, seed in (
            (scenario.scenarios, scenario.seed),
            (scenario.evaluation_scenarios, scenario.seed + EVALUATION_SEED_OFFSET),
        )
    ]
    first = runs[0]
    error = (
        "no backtest (history too short)"
        if first.backtest_smape_pct is None
        else f"backtest sMAPE {first.backtest_smape_pct:.1f}% over {first.backtest_periods} periods"
    )
    notes.append(
        f"history: {series.size} periods from {source}, forecast with {first.model} ({error})"
    )
    notes.extend(first.notes)
    return runs[0].scenarios, runs[1].scenarios


def _progress_reporter(progress: Progress) -> Callable[[str, int, int], None]:
    tasks: dict[str, TaskID] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total or None)
        progress.update(tasks[stage], completed=done, total=total or None)

    return report


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _periods(count: int, period: str) -> str:
    return _count(count, period)


def _percent(value: float) -> str:
    """``+1.2%``; a value that rounds to zero prints as ``+0.0%``, never ``-0.0%``."""
    return f"{0.0 if abs(value) < 5e-4 else value:+.1%}"


def _relative(value: float, base: float) -> str:
    """``value`` against ``base`` in percent; ``—`` when ``base`` is zero (nothing to pay)."""
    if base <= 0:
        return "+0.0%" if value <= 0 else "—"
    return _percent(value / base - 1)


def _money(value: float) -> str:
    return f"${value:,.0f}"


def _orders_table(assembled: Assembled, study: Study) -> Table:
    scenario = assembled.scenario
    options = {o.name: o for o in assembled.in_sample.options}
    table = Table(title="Purchase orders", title_justify="left", header_style="bold")
    for name in ("start", "supplier", "offer", "units", "GPUs", "term", "cost"):
        table.add_column(name, justify="right" if name in {"units", "GPUs", "cost"} else "left")
    for order in study.plan.orders:
        option = options[order.option]
        table.add_row(
            scenario.period_label(order.start_period),
            order.supplier,
            order.option.removeprefix(order.supplier + "/"),
            str(order.units),
            f"{order.units * option.gpus_per_unit:g}",
            _periods(order.term_periods, scenario.period),
            _money(order.cost_usd),
        )
    if not study.plan.orders:
        table.add_row("—", "no commitments: renting is cheapest", "", "", "", "", "")
    return table


def _comparison_table(study: Study) -> Table:
    table = Table(
        title="Out of sample (fresh scenarios)", title_justify="left", header_style="bold"
    )
    for name in (
        "strategy",
        "expected cost",
        "p95 cost",
        "shortfall prob.",
        "unmet GPU-h",
        "vs ours",
    ):
        table.add_column(name, justify="left" if name == "strategy" else "right")
    ours = study.ours.expected_cost_usd
    for e in study.evaluations:
        versus = "—" if e.name == OURS else _relative(e.expected_cost_usd, ours)
        table.add_row(
            f"[bold]{e.name}[/bold]" if e.name == OURS else e.name,
            _money(e.expected_cost_usd),
            _money(e.p95_cost_usd),
            f"{e.shortfall_probability:.1%}",
            f"{e.expected_unmet_gpu_hours:,.0f}",
            versus,
        )
    return table


def write_orders_csv(path: Path, assembled: Assembled, study: Study) -> None:
    options = {o.name: o for o in assembled.in_sample.options}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["supplier", "offer", "units", "gpus", "start_period", "start", "term_periods",
             "cost_usd"]
        )  # fmt: skip
        for o in study.plan.orders:
            writer.writerow(
                [
                    o.supplier, o.option, o.units, f"{o.units * options[o.option].gpus_per_unit:g}",
                    o.start_period, assembled.scenario.period_label(o.start_period),
                    o.term_periods, f"{o.cost_usd:.2f}",
                ]
            )  # fmt: skip


def plan_command(
    scenario_file: Annotated[
        Path | None,
        typer.Argument(
            help="A gpufleet-scenario/v1 YAML file (or --from-server).", show_default=False
        ),
    ] = None,
    horizon: Annotated[
        str | None, typer.Option(help="Override the horizon: periods, or 26w, 6m, 180d.")
    ] = None,
    scenarios: Annotated[
        int | None, typer.Option(min=1, help="In-sample demand scenarios to plan on.")
    ] = None,
    evaluation_scenarios: Annotated[
        int | None, typer.Option(min=1, help="Fresh scenarios (another seed) to judge plans on.")
    ] = None,
    risk: Annotated[
        str | None, typer.Option(help="Risk aversion: cvar:0.95 (or cvar:0.95@0.5 to weight it).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the demand scenarios.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report here.")] = None,
    orders: Annotated[
        Path | None, typer.Option(help="Write the purchase orders as CSV here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    from_server: Annotated[
        bool,
        typer.Option(
            "--from-server",
            help="Plan on the control plane from its offers, declared demand, usage history, "
            "fleet and supplier scorecards (instead of a scenario file).",
            rich_help_panel="Control plane",
        ),
    ] = False,
    period: Annotated[
        str, typer.Option(help="day, week or month.", rich_help_panel="Control plane")
    ] = "week",
    accept: Annotated[
        bool,
        typer.Option(
            "--accept",
            help="Accept the plan: its orders become purchase orders.",
            rich_help_panel="Control plane",
        ),
    ] = False,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    if from_server:
        if scenario_file is not None or orders is not None or risk is not None:
            raise fail(
                "--from-server plans from the server's data: drop SCENARIO_FILE/--orders/--risk"
            )
        plan_from_server(
            period=period,
            horizon=int(horizon or 26),
            scenarios=scenarios or 100,
            evaluation_scenarios=evaluation_scenarios or 100,
            seed=seed or 1,
            accept=accept,
            report=report,
            as_json=as_json,
            server=server,
            token=token,
        )
        return
    if scenario_file is None:
        raise fail("give a scenario file (gpufleet plan SCENARIO.yaml) or --from-server")
    if accept:
        raise fail("--accept needs --from-server (a scenario file's plan has no purchase orders)")
    _plan_file(
        scenario_file,
        horizon=horizon,
        scenarios=scenarios,
        evaluation_scenarios=evaluation_scenarios,
        risk=risk,
        seed=seed,
        report=report,
        orders=orders,
        as_json=as_json,
    )


def _plan_file(
    scenario_file: Path,
    *,
    horizon: str | None,
    scenarios: int | None,
    evaluation_scenarios: int | None,
    risk: str | None,
    seed: int | None,
    report: Path | None,
    orders: Path | None,
    as_json: bool,
) -> None:
    table = gpu_table()
    try:
        scenario = load_scenario(scenario_file, horizon=horizon)
        overrides: dict[str, Any] = {
            "scenarios": scenarios,
            "evaluation_scenarios": evaluation_scenarios,
            "seed": seed,
            "risk": None if risk is None else parse_risk(risk),
        }
        scenario = dataclasses.replace(
            scenario, **{k: v for k, v in overrides.items() if v is not None}
        )
        notes: list[str] = []
        offers, described = scenario_offers(scenario, table)
        spot = _spot_model(scenario, table, notes)
        history = _history(scenario, notes)
        assembled = assemble(
            scenario, offers, table, history_forecast=history, spot_availability=spot
        )
    except ScenarioError as exc:
        raise fail(str(exc), code=1) from None
    except (CatalogError, AssemblyError, TraceError, spot_traces.SpotTraceError) as exc:
        raise fail(str(exc), code=1) from None
    except ValueError as exc:
        raise fail(f"{scenario_file}: {exc}", code=1) from None
    if not any(o.contract is ContractKind.SPOT for o in assembled.in_sample.options):
        notes = [n for n in notes if not n.startswith(("spot:", "no spot traces"))]
    notes = [f"offers from {described}", *notes, *assembled.notes]
    problem = assembled.in_sample
    err.print(
        f"[bold]{escape(scenario.name)}[/bold]: {_periods(scenario.horizon, scenario.period)}, "
        f"{_count(len(problem.options), 'capacity option')} from "
        f"{_count(len(problem.suppliers), 'supplier')}, "
        f"{scenario.scenarios} scenarios to plan on, {scenario.evaluation_scenarios} to judge on"
        + (f", risk {scenario.risk}" if scenario.risk else ""),
        highlight=False,
    )
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        study = run_study(
            assembled.in_sample,
            assembled.out_of_sample,
            mip_gap=scenario.mip_gap,
            time_limit_s=scenario.time_limit_s,
            progress=_progress_reporter(progress),
        )
    if orders is not None:
        write_orders_csv(orders, assembled, study)
    if report is not None:
        write_plan_report(report, assembled, study, notes)
    if as_json:
        out.print_json(json.dumps(study_summary(assembled, study, notes)))
        return
    out.print(_orders_table(assembled, study))
    out.print(_comparison_table(study))
    plan = study.plan
    solved = f"solved in {plan.solve_s:.1f} s, MIP gap {plan.mip_gap:.2%} " + (
        "(optimal within the gap)" if plan.status == "optimal" else "(TIME LIMIT: not optimal)"
    )
    out.print(solved, highlight=False)
    out.print(
        f"Gap to the perfect-foresight bound: {_percent(study.gap_to_bound)}. "
        + (
            "Cheaper than every baseline at an equal or lower shortfall probability."
            if study.beats_every_baseline
            else "NOT cheaper than every baseline at an equal or lower shortfall probability."
        ),
        highlight=False,
    )
    for line in plan.diagnosis:
        out.print(f"[yellow]shortfall:[/yellow] {line}", highlight=False)
    for line in notes:
        err.print(f"[dim]note: {line}[/dim]", highlight=False)
    if report is not None:
        err.print(f"report written to {report}")
    if orders is not None:
        err.print(f"purchase orders written to {orders}")
