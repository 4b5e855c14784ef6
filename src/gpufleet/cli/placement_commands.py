"""``gpufleet placement-bench``: the FGD paper's placement experiment on openb."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gpufleet.catalog.problems import CatalogError
from gpufleet.catalog.sources import find_shared_data
from gpufleet.cli.console import err, fail, out
from gpufleet.scheduling.placement import names
from gpufleet.sim.fgd_published import Published, load_published
from gpufleet.sim.placement_bench import PERCENTS, RunResult, Summary, summarise
from gpufleet.sim.placement_sweep import run_sweep
from gpufleet.sim.traces.openb import WORKLOADS, TraceError


def parse_seeds(text: str) -> list[int]:
    """``42-51`` or ``42,45,50`` (or a mix) -> seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            seeds.extend(range(int(lo), int(hi) + 1) if hi else [int(lo)])
        except ValueError:
            msg = f"--seeds: {part!r} is not a seed or a range like 42-51"
            raise ValueError(msg) from None
    if not seeds:
        msg = "--seeds: no seeds given"
        raise ValueError(msg)
    return list(dict.fromkeys(seeds))


def _choose(text: str, known: list[str], what: str) -> list[str]:
    chosen = known if text == "all" else [p.strip() for p in text.split(",") if p.strip()]
    chosen = list(dict.fromkeys(chosen))
    if not chosen:
        msg = f"no {what} given; known: {', '.join(known)}, or all"
        raise ValueError(msg)
    unknown = [c for c in chosen if c not in known]
    if unknown:
        msg = f"unknown {what} {', '.join(unknown)}; known: {', '.join(known)}, or all"
        raise ValueError(msg)
    return chosen


def _summary_json(s: Summary, published: Published | None) -> dict[str, object]:
    return {
        "workload": s.workload,
        "policy": s.policy,
        "seeds": [r.seed for r in s.runs],
        "allocation_at_130_mean": round(s.allocation_mean, 3),
        "allocation_at_130_std": round(s.allocation_std, 3),
        "allocation_at_130_per_seed": [r.allocation_at_130 for r in s.runs],
        "fragmentation_at_130_mean": round(s.fragmentation_mean, 3),
        "published_allocation_at_130_mean": published.allocation_mean(s.workload, s.policy)
        if published
        else None,
        "published_fragmentation_at_130_mean": published.fragmentation_mean(s.workload, s.policy)
        if published
        else None,
        "wall_s_per_run": round(s.wall_s_mean, 3),
        "placements_per_s": round(s.placements_per_s, 1),
    }


def _table(summaries: list[Summary], published: Published | None) -> Table:
    table = Table(title="GPU allocation ratio at 130% arrived demand (openb, FGD protocol)")
    for name, justify in (
        ("workload", "left"), ("policy", "left"), ("alloc % mean", "right"), ("± std", "right"),
    ):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    if published:
        table.add_column("published", justify="right")
        table.add_column("diff pp", justify="right")
    table.add_column("frag % ", justify="right")
    table.add_column("s/run", justify="right")
    table.add_column("placements/s", justify="right")
    for s in summaries:
        cells = [s.workload, s.policy, f"{s.allocation_mean:.2f}", f"{s.allocation_std:.2f}"]
        if published:
            ref = published.allocation_mean(s.workload, s.policy)
            cells += (
                ["—", "—"] if ref is None else [f"{ref:.2f}", f"{s.allocation_mean - ref:+.2f}"]
            )
        cells += [
            f"{s.fragmentation_mean:.2f}",
            f"{s.wall_s_mean:.2f}",
            f"{s.placements_per_s:,.0f}",
        ]
        table.add_row(*cells)
    table.caption = "Means over the seeds; frag: fragmented GPUs as % of all GPUs."
    return table


def _plot(summaries: list[Summary], path: Path) -> None:
    # matplotlib is slow to import: only when a plot is asked for.
    from gpufleet.reports.placement_plot import AllocationSeries, plot_allocation  # noqa: PLC0415

    plot_allocation(
        [
            AllocationSeries(
                panel=f"openb {s.workload} ({len(s.runs)} seeds)",
                label=f"{s.policy} ({s.allocation_mean:.2f}%)",
                arrived_pct=PERCENTS,
                allocation_pct=s.allocation_curve,
            )
            for s in summaries
        ],
        path,
    )


def placement_bench(
    workload: Annotated[
        str, typer.Option(help="openb workload(s), comma-separated, or all.")
    ] = "default",
    policy: Annotated[
        str, typer.Option(help="Placement strategies, comma-separated, or all.")
    ] = "fgd",
    seeds: Annotated[str, typer.Option(help="Seeds: a range (42-51) or a list (42,43).")] = "42-51",
    compare_published: Annotated[
        bool, typer.Option("--compare-published", help="Show FGD's published means beside ours.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of allocation vs demand.")] = None,
    jobs: Annotated[int, typer.Option(min=1, help="Parallel worker processes.")] = os.cpu_count()
    or 1,
) -> None:
    try:
        workloads = _choose(workload, list(WORKLOADS), "workload")
        policies = _choose(policy, names(), "policy")
        seed_list = parse_seeds(seeds)
        data = find_shared_data(os.environ, Path.cwd())
    except (ValueError, CatalogError) as exc:
        raise fail(str(exc)) from None
    if data is None or not (data / "traces" / "openb").is_dir():
        raise fail("the openb trace was not found: set GPUFLEET_DATA to the shared data folder")
    published = None
    if compare_published:
        results_dir = data / "results" / "fgd"
        if not (results_dir / "analysis_allo_discrete.csv").is_file():
            raise fail(f"--compare-published: FGD's results were not found in {results_dir}")
        published = load_published(results_dir)
    total = len(workloads) * len(policies) * len(seed_list)
    results: list[RunResult] = []
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True, disable=as_json and not err.is_terminal,
    ) as bar:  # fmt: skip
        task = bar.add_task("placement runs", total=total)

        def advance(result: RunResult) -> None:
            bar.update(
                task, advance=1, description=f"{result.workload} {result.policy} {result.seed}"
            )

        try:
            results = run_sweep(
                data / "traces" / "openb", workloads, policies, seed_list,
                jobs=min(jobs, total), progress=advance,
            )  # fmt: skip
        except TraceError as exc:
            raise fail(str(exc)) from None
    order = {(w, p): i for i, (w, p) in enumerate((w, p) for w in workloads for p in policies)}
    summaries = sorted(summarise(results), key=lambda s: order[(s.workload, s.policy)])
    if plot is not None:
        _plot(summaries, plot)
        err.print(f"wrote {plot}")
    if as_json:
        out.print_json(json.dumps([_summary_json(s, published) for s in summaries]))
    else:
        out.print(_table(summaries, published))
