"""``gpufleet simulate``: replay a job trace through the scheduler's policies on a virtual clock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import gpufleet.scheduling.policies  # noqa: F401 - registers the policies
from gpufleet.cli.console import err, fail, out
from gpufleet.reports.sim_report import PolicyRun, write_plot, write_sim_report
from gpufleet.scheduling.core import make_policy, policy_names
from gpufleet.sim.metrics import Metrics, summarise
from gpufleet.sim.rounds_sim import RunResult, simulate
from gpufleet.sim.trace_specs import Trace, parse_cluster, parse_trace
from gpufleet.sim.workloads import WorkloadError, poisson_failures

TABLE_COLUMNS = (
    ("JCT h", "avg_jct_h"),
    ("p50 h", "p50_jct_h"),
    ("p99 h", "p99_jct_h"),
    ("queue h", "avg_queueing_h"),
    ("span h", "makespan_h"),
    ("util %", "utilisation"),
    ("FTF", "ftf_rho_mean"),
    ("preempt", "preemptions"),
    ("unfin.", "unfinished"),
)
"""(column, metric): JCT average and percentiles, average queueing delay, makespan, GPU
utilisation, mean finish-time fairness rho, preemptions, unfinished jobs."""


def _policies(policy: str, compare: str | None) -> list[str]:
    names = [p.strip() for p in (compare or policy).split(",") if p.strip()]
    if compare and compare.strip() == "all":
        names = policy_names()
    unknown = [n for n in names if n not in policy_names()]
    if unknown or not names:
        known = ", ".join(policy_names())
        flag = "--compare" if compare else "--policy"
        raise fail(f"{flag}: unknown policy {', '.join(unknown) or '(none given)'}; known: {known}")
    return list(dict.fromkeys(names))


def _row(metrics: Metrics, result: RunResult) -> dict[str, float | int | None]:
    data = metrics.as_dict()
    row: dict[str, float | int | None] = {}
    for label, key in TABLE_COLUMNS:
        value = data.get(key)
        if key == "utilisation" and isinstance(value, float):
            value *= 100
        row[label] = value if isinstance(value, int | float) or value is None else None
    row["wall s"] = result.wall_s
    return row


def _check_outputs(report: Path | None, plot: Path | None, seed: int) -> None:
    """Refuse what would fail only after the runs: a missing output folder, a negative seed."""
    for path, flag in ((report, "--report"), (plot, "--plot")):
        if path is not None and not path.parent.is_dir():
            raise fail(f"{flag}: folder {path.parent} does not exist")
    if seed < 0:
        raise fail(f"--seed: must be >= 0, got {seed}")


def _load(trace: str, cluster: str | None) -> Trace:
    """The trace on the requested cluster, without the jobs that cluster can never hold."""
    try:
        loaded = parse_trace(trace)
        if cluster is not None:
            types, counts = parse_cluster(cluster)
            loaded = loaded.on_cluster(types, counts)
        return loaded.runnable()[0]
    except (WorkloadError, ValueError) as exc:
        raise fail(f"--trace {trace}: {exc}", code=1) from None


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.2f}"


def simulate_command(
    trace: Annotated[
        str,
        typer.Option(
            help="gavel:seed=N | gavel:continuous:rate=R | openb:NAME | poisson:rate=R,jobs=N"
        ),
    ] = "gavel:continuous:rate=2.8",
    cluster: Annotated[
        str | None,
        typer.Option(help="GPUs per type, e.g. 36xV100,36xP100,36xK80 (default: the trace's)."),
    ] = None,
    policy: Annotated[str, typer.Option(help="Scheduling policy.")] = "min-jct",
    compare: Annotated[
        str | None,
        typer.Option(help="Several policies on the same jobs (comma-separated, or all)."),
    ] = None,
    round_s: Annotated[float, typer.Option(min=1.0, help="Scheduling round, seconds.")] = 360.0,
    restart_overhead_s: Annotated[
        float, typer.Option(min=0.0, help="Checkpoint-restart cost when a job starts or moves.")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the policies' random choices.")] = 0,
    gpu_failures_per_day: Annotated[
        float, typer.Option(min=0.0, help="GPU failures per GPU per day (Poisson; 0: none).")
    ] = 0.0,
    repair_h: Annotated[float, typer.Option(min=0.0, help="Hours a failed GPU is out.")] = 24.0,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report here.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write the JCT CDF as a PNG here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    names = _policies(policy, compare)
    _check_outputs(report, plot, seed)
    loaded = _load(trace, cluster)
    workload = loaded.workload
    measure = list(loaded.measure) or None
    failures = poisson_failures(
        loaded.capacity, per_gpu_day=gpu_failures_per_day, repair_s=repair_h * 3600.0,
        until_s=float(workload.arrival_s.max(initial=0.0)) * 2 + 90 * 86_400.0, seed=seed,
    ) if gpu_failures_per_day else []  # fmt: skip
    cluster_text = ", ".join(
        f"{c}x{t}" for t, c in zip(loaded.gpu_types, loaded.capacity, strict=True)
    )
    err.print(
        f"[bold]{loaded.name}[/bold]: {len(workload):,} jobs on {cluster_text}; "
        + ("; ".join(loaded.report.lines()[1:]) or "nothing skipped"),
        highlight=False,
    )
    runs: list[PolicyRun] = []
    results: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True,
    ) as progress:  # fmt: skip
        for name in names:
            task = progress.add_task(f"{name}: jobs done", total=len(measure or workload.job_id))

            def tick(done: int, total: int, task: Any = task) -> None:
                _ = total
                progress.update(task, completed=done)

            try:
                result = simulate(
                    workload, make_policy(name, seed=seed), gpu_types=loaded.gpu_types,
                    capacity=loaded.capacity, round_s=round_s, measure=measure or (),
                    restart_overhead_s=restart_overhead_s, failures=failures, progress=tick,
                    cpu_capacity_milli=loaded.cpu_capacity_milli,
                    memory_capacity_mib=loaded.memory_capacity_mib,
                )  # fmt: skip
            except ValueError as exc:
                raise fail(f"{name}: {exc}", code=1) from None
            progress.remove_task(task)
            metrics = summarise(workload, result, measure=measure, capacity=loaded.capacity,
                                round_s=round_s)  # fmt: skip
            rows = np.asarray(measure) if measure else np.arange(len(workload))
            runs.append(PolicyRun(name, _row(metrics, result), result.jct_s[rows] / 3600,
                                  result.utilisation))  # fmt: skip
            results[name] = {**metrics.as_dict(), "wall_s": result.wall_s, "rounds": result.rounds}
            results[name].pop("utilisation_series", None)
    settings = (
        f"trace {loaded.name}: {len(workload):,} jobs; cluster {cluster_text}; rounds of "
        f"{round_s:g} s; restart overhead {restart_overhead_s:g} s; seed {seed}; "
        f"{len(failures):,} GPU failures ({gpu_failures_per_day:g} per GPU-day, "
        f"{repair_h:g} h repairs)"
    )
    measured = (
        f"measured: {len(measure):,} jobs (rows {measure[0]}-{measure[-1]})"
        if measure
        else "measured: every job"
    )
    description = [settings, *(f"workload: {line}" for line in loaded.report.lines()), measured]
    try:
        if report is not None:
            write_sim_report(report, loaded.name, description, runs)
        if plot is not None:
            write_plot(runs, plot)
    except OSError as exc:
        raise fail(f"cannot write {exc.filename}: {exc.strerror}", code=1) from None
    if as_json:
        out.print_json(json.dumps({"trace": loaded.name, "policies": results}, default=str))
        return
    table = Table(
        title=f"{loaded.name} on {cluster_text}", title_justify="left", header_style="bold"
    )
    table.add_column("policy")
    for label in runs[0].metrics:
        table.add_column(label, justify="right")
    for run in runs:
        table.add_row(run.name, *(_fmt(v) for v in run.metrics.values()))
    out.print(table)
    for path, what in ((report, "report"), (plot, "plot")):
        if path is not None:
            err.print(f"{what} written to {path}")
