"""``gpufleet demand | plans | costs | budgets`` and ``gpufleet plan --from-server``: declared
demand, plans the control plane makes from its own data, and what the fleet cost, over the API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from gpufleet.cli.client import DEFAULT_SERVER
from gpufleet.cli.console import err, fail, out
from gpufleet.cli.job_commands import (
    JsonOption,
    ServerOption,
    TokenOption,
    connect,
    fetch_list,
    print_json,
)
from gpufleet.server.schemas_costs import BudgetPublic, CostReport, IdleReport
from gpufleet.server.schemas_plans import DemandPublic, PlanAccepted, PlanPublic

demand_app = typer.Typer(
    help="Declared demand (the default: list it); declare what a project will need.",
    no_args_is_help=False,
    rich_markup_mode="rich",
)


def _when(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} {value!r}: expected a date or time, e.g. 2027-01-04") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@demand_app.callback(invoke_without_command=True)
def demand(
    ctx: typer.Context,
    as_json: JsonOption = False,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """List declared demand."""
    if ctx.invoked_subcommand is not None:
        return
    found = fetch_list(server, token, DemandPublic, "/demand", as_json=as_json)
    if found is None:
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "PROJECT", "GPU", "FROM", "UNTIL", "LOW", "EXPECTED", "HIGH", "NOTE"):
        table.add_column(column)
    for d in found:
        table.add_row(
            str(d.id), escape(d.project), d.gpu, f"{d.start:%Y-%m-%d}", f"{d.end:%Y-%m-%d}",
            f"{d.low_gpus:g}", f"{d.expected_gpus:g}", f"{d.high_gpus:g}", escape(d.note),
        )  # fmt: skip
    out.print(table)


@demand_app.command("declare")
def declare(
    project: Annotated[str, typer.Option("--project", "-p", help="The project that needs it.")],
    gpus: Annotated[float, typer.Option(min=0, help="GPUs busy on average (the median).")],
    start: Annotated[str, typer.Option("--from", help="First day, e.g. 2027-01-04.")],
    end: Annotated[str, typer.Option("--until", help="Day after the last, e.g. 2027-04-05.")],
    gpu: Annotated[str, typer.Option(help="GPU model.")] = "H100-SXM",
    low: Annotated[
        float | None, typer.Option(min=0, help="5th percentile (default: --gpus).")
    ] = None,
    high: Annotated[
        float | None, typer.Option(min=0, help="95th percentile (default: --gpus).")
    ] = None,
    note: Annotated[str, typer.Option(help="What it is for.")] = "",
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """Declare what a project will need (admin, or a member for its own project)."""
    body = {
        "project": project,
        "gpu": gpu,
        "start": _when(start, "--from").isoformat(),
        "end": _when(end, "--until").isoformat(),
        "expected_gpus": gpus,
        "low_gpus": low,
        "high_gpus": high,
        "note": note,
    }
    with connect(server, token) as client:
        made = client.call(DemandPublic, "POST", "/demand", json=body)
    out.print(f"demand {made.id}: {made.project} {made.expected_gpus:g} x {made.gpu}")


def plan_from_server(
    *,
    period: str,
    horizon: int,
    scenarios: int,
    evaluation_scenarios: int,
    seed: int,
    accept: bool,
    report: Path | None,
    as_json: bool,
    server: str,
    token: str | None,
) -> None:
    """``gpufleet plan --from-server``: the control plane plans from its offers, declared
    demand, usage history, fleet and supplier scorecards; print it (and accept it)."""
    body = {
        "period": period,
        "horizon": horizon,
        "scenarios": scenarios,
        "evaluation_scenarios": evaluation_scenarios,
        "seed": seed,
    }
    with connect(server, token) as client:
        err.print("planning on the server (offers, demand, history, fleet, scorecards)...")
        made = client.call(PlanPublic, "POST", "/plans", json=body, timeout=600)
        html = client.text("GET", f"/plans/{made.id}/report") if report else ""
        accepted = None
        if accept:
            accepted = client.call(PlanAccepted, "POST", f"/plans/{made.id}/accept")
            made = accepted.plan
    if report is not None:
        report.write_text(html, encoding="utf-8")
        err.print(f"report written to {report}")
    if as_json:
        print_json(made.model_dump(mode="json"))
        return
    print_plan(made)
    if accepted is not None:
        err.print(
            f"accepted: purchase orders {accepted.plan.purchase_orders} "
            f"(submitted now: {accepted.submitted}; the rest on their order date)",
            highlight=False,
        )
    else:
        err.print(f"accept it with: gpufleet plans accept {made.id}", highlight=False)


def print_plan(plan: PlanPublic) -> None:
    out.print(
        f"plan {plan.id} ({plan.state}): {plan.horizon} {plan.period}s from "
        f"{plan.start:%Y-%m-%d}, expected cost ${plan.expected_cost_usd:,.0f}",
        highlight=False,
    )
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ORDER AT", "SUPPLIER", "CONTRACT", "GPU", "UNITS", "GPUS", "COST $"):
        table.add_column(column)
    for o in plan.orders:
        table.add_row(
            f"{o.order_at:%Y-%m-%d}", escape(o.supplier), o.contract.value, o.gpu or "-",
            str(o.units), f"{o.gpus:g}", f"{o.cost_usd:,.0f}",
        )  # fmt: skip
    if plan.orders:
        out.print(table)
    else:
        out.print("no commitments: rent on demand (or the fleet already covers the demand)")
    for e in plan.evaluations:
        out.print(
            f"  {e['name']}: expected ${e['expected_cost_usd']:,.0f}, "
            f"shortfall probability {e['shortfall_probability']:.0%}",
            highlight=False,
        )
    for note in plan.notes:
        err.print(f"[dim]note: {escape(note)}[/dim]", highlight=False)


plans_app = typer.Typer(
    help="Plans the control plane made (the default: list them); show, accept.",
    no_args_is_help=False,
    rich_markup_mode="rich",
)


@plans_app.callback(invoke_without_command=True)
def plans(
    ctx: typer.Context,
    as_json: JsonOption = False,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """List plans, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    found = fetch_list(server, token, PlanPublic, "/plans", as_json=as_json)
    if found is None:
        return
    for plan in found:
        out.print(
            f"{plan.id}\t{plan.state}\t{plan.created_at:%Y-%m-%d %H:%M}\t"
            f"${plan.expected_cost_usd:,.0f}\t{len(plan.orders)} orders",
            highlight=False,
        )


@plans_app.command("show")
def show_plan(
    plan_id: Annotated[int, typer.Argument(help="The plan's id.")],
    as_json: JsonOption = False,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    with connect(server, token) as client:
        plan = client.call(PlanPublic, "GET", f"/plans/{plan_id}")
    if as_json:
        print_json(plan.model_dump(mode="json"))
    else:
        print_plan(plan)


@plans_app.command("accept")
def accept_plan(
    plan_id: Annotated[int, typer.Argument(help="The plan's id.")],
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """Accept a plan (admin): its orders become purchase orders, those due now are submitted."""
    with connect(server, token) as client:
        accepted = client.call(PlanAccepted, "POST", f"/plans/{plan_id}/accept")
    print_plan(accepted.plan)
    out.print(
        f"purchase orders {accepted.plan.purchase_orders}; submitted now: {accepted.submitted}",
        highlight=False,
    )


def costs(
    since: Annotated[str | None, typer.Option(help="From (default: 30 days ago).")] = None,
    until: Annotated[str | None, typer.Option(help="Until (default: now).")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Write the chargeback CSV here.")
    ] = None,
    idle: Annotated[
        bool, typer.Option("--idle", help="Idle cost per supplier and GPU model (admin).")
    ] = False,
    as_json: JsonOption = False,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """What the fleet cost: GPU-hours and dollars per project and supplier (members: their
    own project), the chargeback CSV, and idle cost."""
    params: dict[str, str] = {}
    if since:
        params["since"] = _when(since, "--since").isoformat()
    if until:
        params["until"] = _when(until, "--until").isoformat()
    if project:
        params["project"] = project
    with connect(server, token) as client:
        if idle:
            params.pop("project", None)
            idle_report = client.call(IdleReport, "GET", "/costs/idle", params=params)
            _print_idle(idle_report, as_json=as_json)
            return
        report = client.call(CostReport, "GET", "/costs", params=params)
        if csv is not None:
            csv.write_text(client.text("GET", "/costs/chargeback.csv", params=params))
            err.print(f"chargeback CSV written to {csv}")
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    out.print(f"{report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC")
    for title, totals in (("PROJECT", report.by_project), ("SUPPLIER", report.by_supplier)):
        table = Table(box=None, header_style="bold", pad_edge=False)
        table.add_column(title)
        table.add_column("GPU-HOURS", justify="right")
        table.add_column("COST $", justify="right")
        for name, total in totals.items():
            table.add_row(escape(name), f"{total.gpu_hours:,.1f}", f"{total.cost_usd:,.2f}")
        table.add_row(
            "[bold]total[/]", f"{report.total.gpu_hours:,.1f}", f"{report.total.cost_usd:,.2f}"
        )
        out.print(table)
    if report.unpriced_gpu_hours:
        err.print(
            f"{report.unpriced_gpu_hours:,.1f} GPU-hours ran on machines with no contract price "
            "(counted at $0)"
        )


def _print_idle(report: IdleReport, *, as_json: bool) -> None:
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("SUPPLIER", "GPU", "PAID GPU-h", "USED GPU-h", "IDLE GPU-h", "IDLE $", "USE"):
        table.add_column(column, justify="left" if column in ("SUPPLIER", "GPU") else "right")
    for r in report.rows:
        table.add_row(
            escape(r.supplier or "-"), r.gpu, f"{r.paid_gpu_hours:,.1f}",
            f"{r.allocated_gpu_hours:,.1f}", f"{r.idle_gpu_hours:,.1f}", f"{r.idle_usd:,.2f}",
            "-" if r.utilisation is None else f"{r.utilisation:.0%}",
        )  # fmt: skip
    out.print(table)


def budgets(
    as_json: JsonOption = False,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """This month's spend per project against its budget; alerts at 80% and 100%."""
    found = fetch_list(server, token, BudgetPublic, "/budgets", as_json=as_json)
    if found is None:
        return
    for b in found:
        budget = "no budget" if b.budget_usd is None else f"of ${b.budget_usd:,.0f}"
        used = "" if b.fraction is None else f" ({b.fraction:.0%})"
        alerts = (
            " [red]alerts: " + ", ".join(f"{a:.0%}" for a in b.alerts) + "[/]" if b.alerts else ""
        )
        out.print(f"{escape(b.project)} {b.month}: ${b.spent_usd:,.2f} {budget}{used}{alerts}")
