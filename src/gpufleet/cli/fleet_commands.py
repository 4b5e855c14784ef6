"""``gpufleet nodes | projects | tokens``: the fleet, its projects and API tokens, over the API.

Thin like ``job_commands`` (whose ``connect`` and options they share): parse, call, print.
"""

from __future__ import annotations

from datetime import datetime
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
    age,
    connect,
    print_json,
)
from gpufleet.domain.fleet import Acceptance, NodeState
from gpufleet.server.clock import utc_now
from gpufleet.server.schemas import GpuPublic, NodePublic, ProjectPublic, Role

NODE_STYLE = {
    NodeState.UP: "green",
    NodeState.LOST: "bold red",
    NodeState.DRAINING: "yellow",
    NodeState.QUARANTINED: "yellow",
    NodeState.REJECTED: "bold red",
}
ACCEPTANCE_SHOWN = {
    Acceptance.NOT_REQUIRED: "",
    Acceptance.PENDING: "[yellow]testing[/]",
    Acceptance.PASSED: "[green]passed[/]",
    Acceptance.FAILED: "[bold red]failed[/]",
}


def nodes(
    as_json: JsonOption = False,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """List nodes and their GPUs with the latest telemetry; simulated GPUs are marked."""
    with connect(server, token) as client:
        found = client.nodes()
    if as_json:
        print_json([node.model_dump(mode="json") for node in found])
        return
    if not found:
        err.print("no nodes yet: start an agent (`gpufleet up` starts one on this machine)")
        return
    out.print(node_table(found, now=utc_now()))
    if any(node.simulated for node in found):
        err.print(
            "[dim]sim: simulated GPUs (an agent run with --fake-gpus); their telemetry is made "
            "up and jobs on them see no real device[/dim]",
            soft_wrap=True,
        )


def node_table(found: list[NodePublic], *, now: datetime) -> Table:
    """One row per GPU, the node's name and state on its first; ``sim`` marks simulated GPUs."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("NODE", no_wrap=True, overflow="ellipsis")
    table.add_column("STATE", no_wrap=True)
    table.add_column("GPU", justify="right", no_wrap=True)
    table.add_column("MODEL", no_wrap=True)
    for column in ("GiB", "UTIL %", "USED GiB", "°C", "WATTS"):
        table.add_column(column, justify="right", no_wrap=True)
    delivered = any(n.acceptance is not Acceptance.NOT_REQUIRED for n in found)
    if delivered:
        table.add_column("ACCEPTANCE", overflow="fold")
    for node in found:
        seen = f"{age(now, node.last_heartbeat)} ago"
        cells = [escape(node.name), f"[{NODE_STYLE[node.state]}]{node.state}[/] {seen}"]
        if not node.gpus:
            table.add_row(*cells, "-", "no GPUs")
        for gpu in node.gpus:
            model = escape(gpu.model) + (" [magenta]sim[/]" if gpu.simulated else "")
            table.add_row(
                *cells,
                str(gpu.index),
                model,
                _num(gpu.memory_gib),
                _num(gpu.utilisation_pct),
                _num(gpu.memory_used_gib),
                _num(gpu.temperature_c),
                _num(gpu.power_w),
                *([_acceptance(gpu)] if delivered else []),
            )
            cells = ["", ""]  # the node's columns on its first GPU's row only
    return table


projects_app = typer.Typer(
    help="List projects (the default), or create one.",
    no_args_is_help=False,
    rich_markup_mode="rich",
)


@projects_app.callback(invoke_without_command=True)
def projects(
    ctx: typer.Context,
    as_json: JsonOption = False,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """List projects: quota per GPU model, weight, budget, GPUs held and jobs waiting."""
    if ctx.invoked_subcommand is not None:
        return
    with connect(server, token) as client:
        found = client.projects()
    if as_json:
        print_json([project.model_dump(mode="json") for project in found])
        return
    if not found:
        err.print("no projects yet: `gpufleet projects create NAME` (admin)")
        return
    out.print(project_table(found))


def project_table(found: list[ProjectPublic]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("PROJECT")
    table.add_column("QUOTA")
    for column in ("WEIGHT", "BUDGET $", "GPUS HELD", "PENDING"):
        table.add_column(column, justify="right")
    for project in found:
        quota = ", ".join(f"{model}={gpus}" for model, gpus in sorted(project.quota.items()))
        table.add_row(
            escape(project.name),
            escape(quota) or "-",
            f"{project.weight:g}",
            "-" if project.budget_usd is None else f"{project.budget_usd:,.0f}",
            str(project.running_gpus),
            str(project.pending_jobs),
        )
    return table


@projects_app.command("create")
def create_project(
    name: Annotated[str, typer.Argument(help="Letters, digits, `_ . -`.", show_default=False)],
    quota: Annotated[
        list[str] | None,
        typer.Option(
            "--quota",
            help="MODEL=GPUS, e.g. H100-SXM=8; repeat for several models.",
            show_default=False,
        ),
    ] = None,
    weight: Annotated[float, typer.Option(help="Fair-share weight.")] = 1.0,
    budget_usd: Annotated[
        float | None, typer.Option(help="Budget in US dollars.", show_default=False)
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """Create a project (admin)."""
    quotas = _quotas(quota or [])
    with connect(server, token) as client:
        created = client.create_project(name, quota=quotas, budget_usd=budget_usd, weight=weight)
    out.print(project_table([created]))


def _quotas(specs: list[str]) -> dict[str, int]:
    quotas: dict[str, int] = {}
    for spec in specs:
        model, sep, count = spec.partition("=")
        if not sep or not model.strip() or not count.strip().isdigit():
            raise fail(f"--quota {spec!r}: expected MODEL=GPUS, e.g. H100-SXM=8")
        quotas[model.strip()] = quotas.get(model.strip(), 0) + int(count)
    return quotas


tokens_app = typer.Typer(help="API tokens (admin).", no_args_is_help=True, rich_markup_mode="rich")


@tokens_app.command("create")
def create_token(
    user: Annotated[str, typer.Option(help="Who the token is for.")],
    role: Annotated[Role, typer.Option(help="admin, member (of --project) or agent (of --node).")],
    project: Annotated[
        str | None, typer.Option(help="The project of a member token.", show_default=False)
    ] = None,
    node: Annotated[
        str | None, typer.Option(help="The node name of an agent token.", show_default=False)
    ] = None,
    ttl_s: Annotated[
        int | None, typer.Option(min=1, help="Expires after this many seconds.")
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """Create a token and print it (it is shown only once)."""
    with connect(server, token) as client:
        created = client.create_token(user, role.value, project=project, node=node, ttl_s=ttl_s)
    typer.echo(created.token)
    scope = f" of project {created.project}" if created.project else ""
    scope += f" for node {node}" if role is Role.AGENT and node else ""
    expiry = f", expires {created.expires_at:%Y-%m-%d %H:%M} UTC" if created.expires_at else ""
    err.print(
        f"{created.role} token{escape(scope)} for user {escape(created.user)}{expiry} "
        "(shown once: keep it)",
        highlight=False,
        soft_wrap=True,
    )


def _acceptance(gpu: GpuPublic) -> str:
    shown = ACCEPTANCE_SHOWN[gpu.acceptance]
    if gpu.acceptance is Acceptance.FAILED and gpu.acceptance_note:
        shown += f": {escape(gpu.acceptance_note)}"
    return shown


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"
