"""Entry point of the ``gpufleet`` command."""

from __future__ import annotations

import typer

from gpufleet import __version__
from gpufleet.cli.catalog_commands import gpus, offers
from gpufleet.cli.placement_commands import placement_bench
from gpufleet.cli.plan_commands import plan_command
from gpufleet.cli.simulate_commands import simulate_command

app = typer.Typer(
    name="gpufleet",
    help="One control plane for GPU capacity bought from many suppliers.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
app.command(help="The GPU model table: specs from vendor datasheets, with every known alias.")(gpus)
app.command(help="Browse GPU offers from every supplier, normalised per GPU and per TFLOP.")(offers)
app.command(
    "placement-bench",
    help="Run the FGD paper's placement experiment on Alibaba's openb trace.",
)(placement_bench)

app.command(
    "plan",
    help="Plan what GPU capacity to buy, from whom and when; compare with every baseline.",
)(plan_command)
app.command(
    "simulate",
    help="Replay a job trace through the scheduling policies on a virtual clock.",
)(simulate_command)


@app.command()
def version() -> None:
    """Print the gpufleet version."""
    typer.echo(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
