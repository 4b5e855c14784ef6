"""``gpufleet submit | jobs | logs | cancel``: jobs on a running control plane, over its API.

Each command parses its options, makes one or a few API calls through ``FleetClient`` and
prints the result. A refusal from the server or an unreachable server is one ``error:`` line on
stderr and exit code 1, never a traceback. ``connect`` and the ``--server`` / ``--token``
options are shared with ``fleet_commands``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from gpufleet.cli.client import (
    DEFAULT_SERVER,
    ClientError,
    FleetClient,
    local_admin_token,
)
from gpufleet.cli.console import err, fail, out
from gpufleet.domain.job import JobState
from gpufleet.server.clock import utc_now
from gpufleet.server.schemas import JobPublic

_Model = TypeVar("_Model", bound=BaseModel)

ServerOption = Annotated[
    str,
    typer.Option(
        "--server",
        envvar="GPUFLEET_SERVER",
        help="The control plane's URL.",
        rich_help_panel="Connection",
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="GPUFLEET_TOKEN",
        help="API token. Default: $GPUFLEET_TOKEN, else (for a server on this machine) the "
        "admin token `gpufleet up` saved in ./.gpufleet/admin-token.",
        show_default=False,
        rich_help_panel="Connection",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

STATE_STYLE = {
    JobState.PENDING: "yellow",
    JobState.SCHEDULED: "cyan",
    JobState.RUNNING: "bold cyan",
    JobState.SUCCEEDED: "green",
    JobState.FAILED: "bold red",
    JobState.PREEMPTED: "magenta",
    JobState.CANCELLED: "dim",
}


@contextmanager
def connect(server: str, token: str | None) -> Iterator[FleetClient]:
    """A client for ``server``; any ``ClientError`` inside becomes ``error: ...`` and exit 1."""
    client = FleetClient(server, token or local_admin_token(server))
    try:
        yield client
    except ClientError as exc:
        raise fail(str(exc), 1) from None
    finally:
        client.close()


def print_json(data: object) -> None:
    out.print_json(json.dumps(data), indent=2)


def fetch_list(
    server: str,
    token: str | None,
    schema: type[_Model],
    path: str,
    *,
    as_json: bool,
    params: dict[str, str] | None = None,
) -> list[_Model] | None:
    """``GET path`` read as a list of ``schema``; with ``as_json`` printed as JSON and ``None``
    returned (the caller has nothing left to print)."""
    with connect(server, token) as client:
        kind: Any = list[schema]  # type: ignore[valid-type]
        found: list[_Model] = client.call(kind, "GET", path, params=params or {})
    if as_json:
        print_json([item.model_dump(mode="json") for item in found])
        return None
    return found


def submit(
    command: Annotated[
        list[str],
        typer.Argument(
            help="The command to run and its arguments; put it after `--`.",
            metavar="-- COMMAND",
            show_default=False,
        ),
    ],
    project: Annotated[
        str, typer.Option("--project", "-p", envvar="GPUFLEET_PROJECT", help="Project to bill.")
    ] = "default",
    gpus: Annotated[int, typer.Option("--gpus", "-g", min=1, help="GPUs, on one node.")] = 1,
    gpu_model: Annotated[
        list[str] | None,
        typer.Option(
            "--gpu-model",
            "-m",
            help="Allowed GPU model or family (H100, A100-80GB); repeat for several. Default: any.",
            show_default=False,
        ),
    ] = None,
    priority: Annotated[int, typer.Option(help="Higher runs first.")] = 0,
    name: Annotated[str, typer.Option(help="A name to show in `gpufleet jobs`.")] = "",
    time_limit: Annotated[
        str | None,
        typer.Option(
            help="Stop it after this long: 90s, 30m, 2h, 1d. Lets it start ahead of a larger "
            "job that waits (backfill) when it will be done in time.",
            show_default=False,
        ),
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """Submit a job; prints its id."""
    limit_s = None if time_limit is None else parse_duration_s(time_limit, "--time-limit")
    with connect(server, token) as client:
        job = client.submit(
            project=project,
            command=command,
            gpus=gpus,
            gpu_models=gpu_model or [],
            priority=priority,
            name=name,
            time_limit_s=limit_s,
        )
    typer.echo(job.id)
    models = models_text(job.gpu_models) or "any model"
    err.print(
        f"submitted job {job.id} to project {escape(job.project)}: {_gpus(job.gpus)} "
        f"({escape(models)}), {job.state}. Follow it: [bold]gpufleet logs {job.id} --follow[/]",
        highlight=False,
        soft_wrap=True,
    )


_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration_s(text: str, option: str) -> int:
    """``90``, ``90s``, ``30m``, ``2h``, ``1d`` in whole seconds; ``fail`` names the option."""
    value = text.strip().lower()
    unit = value[-1:] if value[-1:] in _UNITS_S else "s"
    number = value[:-1] if value[-1:] in _UNITS_S else value
    try:
        seconds = float(number) * _UNITS_S[unit]
    except ValueError:
        raise fail(f"{option} {text!r}: expected a duration such as 90s, 30m, 2h or 1d") from None
    if not seconds >= 1:
        raise fail(f"{option} {text!r}: must be at least one second")
    return round(seconds)


def jobs(
    project: Annotated[str | None, typer.Option(help="Only this project's jobs.")] = None,
    state: Annotated[JobState | None, typer.Option(help="Only jobs in this state.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 100,
    as_json: JsonOption = False,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """List jobs, newest first."""
    with connect(server, token) as client:
        found = client.jobs(project=project, state=state, limit=limit)
    if as_json:
        print_json([job.model_dump(mode="json") for job in found])
        return
    if not found:
        err.print("no jobs" + (" matching the filters" if project or state else " yet"))
        return
    out.print(job_table(found, now=utc_now()))


def job_table(found: list[JobPublic], *, now: datetime) -> Table:
    """One row per job; every column but COMMAND keeps its width, COMMAND is cut to fit."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "PROJECT", "NAME", "STATE", "GPUS", "NODE", "EXIT", "TRY", "AGE"):
        right = column in {"ID", "EXIT", "TRY", "AGE"}
        table.add_column(column, justify="right" if right else "left", no_wrap=True)
    table.add_column("COMMAND", min_width=10)
    for job in found:
        node = f"{job.node}:{','.join(map(str, job.gpu_indices))}" if job.node else "-"
        gpus = f"{job.gpus} {models_text(job.gpu_models)}".rstrip()
        command = " ".join(job.command).replace("\n", "\u23ce ")
        table.add_row(
            str(job.id),
            escape(job.project),
            escape(job.name) or "-",
            f"[{STATE_STYLE[job.state]}]{job.state}[/]",
            escape(gpus),
            escape(node),
            "-" if job.exit_code is None else str(job.exit_code),
            str(job.attempts + 1),
            age(now, job.submitted_at),
            Text(command, no_wrap=True, overflow="ellipsis"),
        )
    return table


def logs(
    job: Annotated[int, typer.Argument(help="The job id.", show_default=False)],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until the job ends.")
    ] = False,
    poll_s: Annotated[
        float, typer.Option("--poll-s", min=0.05, help="Seconds between polls with --follow.")
    ] = 1.0,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """Print a job's output (stdout and stderr, merged, as its agent captured them)."""
    with connect(server, token) as client:
        after = _print_logs(client, job, 0)
        if not follow:
            return
        final = follow_logs(client, job, after, poll_s=poll_s, sleep=time.sleep)
    code = "" if final.exit_code is None else f" (exit code {final.exit_code})"
    err.print(f"job {job} {final.state}{code}", style=STATE_STYLE[final.state], highlight=False)


def follow_logs(
    client: FleetClient, job: int, after: int, *, poll_s: float, sleep: Callable[[float], None]
) -> JobPublic:
    """Print new lines until the job is final; returns the final job. The job's state is read
    *before* its lines: agents send every line before reporting a job finished, so once a final
    state is seen, one more read gets the last of them."""
    while True:
        state = client.job(job)
        after = _print_logs(client, job, after)
        if state.state.final:
            return state
        sleep(poll_s)


def _print_logs(client: FleetClient, job: int, after: int) -> int:
    """Print every line after ``after``, page by page; returns the last sequence number."""
    while True:
        page = client.logs(job, after)
        for line in page.lines:
            out.print(line.text, markup=False, highlight=False, emoji=False, soft_wrap=True)
        if not page.lines:
            return after
        after = page.next


def cancel(
    job: Annotated[int, typer.Argument(help="The job id.", show_default=False)],
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """Cancel a job: a pending one at once; a running one is stopped by its agent."""
    with connect(server, token) as client:
        result = client.cancel(job)
    if result.state is JobState.CANCELLED:
        out.print(f"job {job} cancelled", highlight=False)
    else:
        where = f" on {result.node}" if result.node else ""
        out.print(
            f"job {job} is {result.state}{escape(where)}: cancel requested, its agent stops it "
            "(SIGTERM, then SIGKILL)",
            highlight=False,
        )


def _gpus(count: int) -> str:
    return f"{count} GPU" + ("" if count == 1 else "s")


def models_text(models: list[str]) -> str:
    """Allowed models, a family's several variants as one: ``H100-NVL, H100-SXM`` -> ``H100*``."""
    families: dict[str, list[str]] = {}
    for model in models:
        families.setdefault(model.split("-", 1)[0], []).append(model)
    return "|".join(
        group[0] if len(group) == 1 else f"{family}*" for family, group in families.items()
    )


def age(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
