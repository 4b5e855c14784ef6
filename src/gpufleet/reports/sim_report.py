"""Simulation results as plots and one self-contained HTML file.

Takes plain series (not simulator types), so the server can report real runs the same way:
per policy, a table row of metrics, the completion times of its measured jobs, and its GPU
utilisation over time. Plots: the JCT distribution (empirical CDF, log time axis) and the
utilisation over time, one line per policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from gpufleet.reports.html import png_base64, render


@dataclass(frozen=True, slots=True)
class PolicyRun:
    name: str
    metrics: Mapping[str, float | int | None]
    """Row of the table, in display order (e.g. ``avg JCT h``, ``p99 JCT h``)."""
    jct_h: NDArray[np.float64]
    """Completion times of the measured jobs, hours (NaN: did not finish)."""
    utilisation: Sequence[tuple[float, float]] = field(default_factory=tuple)
    """(time s, share of healthy GPUs busy)."""


def jct_cdf(runs: Sequence[PolicyRun]) -> Figure:
    fig, ax = plt.subplots(figsize=(8, 4))
    for run in runs:
        done = np.sort(run.jct_h[np.isfinite(run.jct_h)])
        if done.size:
            ax.step(
                done, np.arange(1, done.size + 1) / run.jct_h.size, where="post", label=run.name
            )
    ax.set_xscale("log")
    ax.set_xlabel("job completion time (hours, log scale)")
    ax.set_ylabel("share of jobs completed")
    ax.set_title("Job completion time distribution")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def utilisation_plot(runs: Sequence[PolicyRun], bins: int = 200) -> Figure:
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for run in runs:
        if not run.utilisation:
            continue
        t = np.array([u[0] for u in run.utilisation]) / 3600
        u = np.array([u[1] for u in run.utilisation])
        if t.size > bins:  # average per bin so long runs stay readable
            edges = np.linspace(t.min(), t.max(), bins + 1)
            which = np.clip(np.digitize(t, edges) - 1, 0, bins - 1)
            counts = np.bincount(which, minlength=bins)
            sums = np.bincount(which, weights=u, minlength=bins)
            keep = counts > 0
            t, u = ((edges[:-1] + edges[1:]) / 2)[keep], sums[keep] / counts[keep]
        ax.plot(t, 100 * u, lw=1, label=run.name)
    ax.set_xlabel("simulated time (hours)")
    ax.set_ylabel("GPUs busy (%)")
    ax.set_ylim(0, 105)
    ax.set_title("GPU utilisation over time")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def write_plot(runs: Sequence[PolicyRun], path: Path) -> None:
    """The JCT CDF as a PNG (for ``--plot``)."""
    fig = jct_cdf(runs)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def render_sim_report(title: str, description: Sequence[str], runs: Sequence[PolicyRun]) -> str:
    columns = list(runs[0].metrics) if runs else []
    return render(
        "simulation.html.j2",
        title=title,
        description=list(description),
        columns=columns,
        runs=runs,
        cdf_png=png_base64(jct_cdf(runs)),
        util_png=png_base64(utilisation_plot(runs)),
    )


def write_sim_report(
    path: Path, title: str, description: Sequence[str], runs: Sequence[PolicyRun]
) -> None:
    path.write_text(render_sim_report(title, description, runs), encoding="utf-8")
