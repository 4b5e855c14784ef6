"""Entry point of the ``gpufleet`` command."""

from __future__ import annotations

import typer

from gpufleet import __version__
from gpufleet.agent.acceptance.command import acceptance
from gpufleet.cli.agent_commands import agent
from gpufleet.cli.budget_commands import budgets, costs, demand_app, plans_app
from gpufleet.cli.catalog_commands import gpus, offers
from gpufleet.cli.fleet_commands import nodes, projects_app, tokens_app
from gpufleet.cli.job_commands import cancel, jobs, logs, submit
from gpufleet.cli.lazy import LazyGroup
from gpufleet.cli.supply_commands import orders_app, suppliers_app

app = typer.Typer(
    name="gpufleet",
    cls=LazyGroup,  # plan, simulate, placement-bench and up load their modules when they run
    help="One control plane for GPU capacity bought from many suppliers.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
app.command(help="The GPU model table: specs from vendor datasheets, with every known alias.")(gpus)
app.command(help="Browse GPU offers from every supplier, normalised per GPU and per TFLOP.")(offers)


app.command("agent", help="Run a node agent: register this machine's GPUs, run jobs.")(agent)
app.command(
    "acceptance",
    help="Burn in this machine's GPUs and judge each against its spec, as on delivery.",
)(acceptance)
app.command(
    "submit",
    help="Submit a job: gpufleet submit --project P --gpus 2 -- python train.py",
    context_settings={"allow_interspersed_args": False},
)(submit)
app.command("jobs", help="List jobs, newest first.")(jobs)
app.command("logs", help="Print a job's output; --follow until it ends.")(logs)
app.command("cancel", help="Cancel a job.")(cancel)
app.command("nodes", help="Nodes and their GPUs with telemetry; simulated GPUs are marked.")(nodes)
app.add_typer(projects_app, name="projects")
app.add_typer(tokens_app, name="tokens")
app.add_typer(suppliers_app, name="suppliers")
app.add_typer(orders_app, name="orders")
app.add_typer(demand_app, name="demand")
app.add_typer(plans_app, name="plans")
app.command("costs", help="What the fleet cost: per project and supplier, chargeback, idle.")(costs)
app.command("budgets", help="This month's spend per project against its budget.")(budgets)


@app.command()
def version() -> None:
    """Print the gpufleet version."""
    typer.echo(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
