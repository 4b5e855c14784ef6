"""Plot GPU allocation ratio against arrived GPU demand, one line per policy (matplotlib)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt
import numpy as np

from gpufleet.sim.placement_bench import PERCENTS, Summary


def plot_allocation(summaries: Sequence[Summary], path: Path) -> None:
    workloads = sorted({s.workload for s in summaries})
    cols = min(len(workloads), 3)
    rows = -(-len(workloads) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4.2 * rows), squeeze=False)
    for ax, workload in zip(axes.flat, workloads, strict=False):
        for summary in sorted(
            (s for s in summaries if s.workload == workload), key=lambda s: s.policy
        ):
            curve = summary.allocation_curve
            label = f"{summary.policy} ({summary.allocation_mean:.2f}%)"
            ax.plot(PERCENTS, curve, label=label, linewidth=1.4)
        ax.plot(PERCENTS, np.minimum(PERCENTS, 100), color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"openb {workload} ({len(summary.runs)} seeds)")
        ax.set_xlabel("arrived GPU demand (% of capacity)")
        ax.set_ylabel("GPU allocation ratio (%)")
        ax.set_xlim(60, 130)
        ax.set_ylim(60, 100)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    for ax in list(axes.flat)[len(workloads) :]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
