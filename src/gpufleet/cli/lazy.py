"""Commands whose modules load only when they run, so ``gpufleet jobs`` does not pay for the
planner, the simulator and the server (statsmodels, numba, matplotlib, FastAPI: seconds).

``LazyGroup`` is the Typer group of the ``gpufleet`` app: it lists the lazy commands with a
one-line help written here, and imports a command's module only when that command is invoked
(``resolve_command``) or its own ``--help`` is asked for. This is Click's documented pattern for
lazily loading subcommands, on Typer's group class.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import typer
from typer.core import TyperGroup


@dataclass(frozen=True, slots=True)
class LazyCommand:
    module: str
    function: str
    help: str
    context_settings: dict[str, Any] = field(default_factory=dict)


LAZY: dict[str, LazyCommand] = {
    "plan": LazyCommand(
        "gpufleet.cli.plan_commands",
        "plan_command",
        "Plan what GPU capacity to buy, from whom and when; compare with every baseline.",
    ),
    "simulate": LazyCommand(
        "gpufleet.cli.simulate_commands",
        "simulate_command",
        "Replay a job trace through the scheduling policies on a virtual clock.",
    ),
    "placement-bench": LazyCommand(
        "gpufleet.cli.placement_commands",
        "placement_bench",
        "Run the FGD paper's placement experiment on Alibaba's openb trace.",
    ),
    "up": LazyCommand(
        "gpufleet.cli.server_commands",
        "up",
        "Start the control plane (API, dashboard, scheduler) on SQLite with one local agent.",
    ),
}


class LazyGroup(TyperGroup):
    # Click's types are Typer's vendored copy (private): the overrides take and give ``Any``.
    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in LAZY if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY:
            return stand_in(cmd_name)  # listing (the group's --help): nothing imported
        return command

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in LAZY and args[0] not in self.commands:
            self.add_command(load(args[0]), args[0])
        return super().resolve_command(ctx, args)


def _command(name: str, function: Any) -> Any:
    spec = LAZY[name]
    single = typer.Typer(add_completion=False, rich_markup_mode="rich")
    single.command(name, help=spec.help, context_settings=spec.context_settings)(function)
    return typer.main.get_command(single)


def load(name: str) -> Any:
    """Import the lazy command ``name`` and build its Click command as Typer would."""
    spec = LAZY[name]
    return _command(name, getattr(importlib.import_module(spec.module), spec.function))


def stand_in(name: str) -> Any:
    """A command with the lazy one's name and help line, for listings; it never runs."""

    def listed() -> None:  # pragma: no cover - resolve_command loads the real one first
        raise typer.Exit(2)

    return _command(name, listed)
