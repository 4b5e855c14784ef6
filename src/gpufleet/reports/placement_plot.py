"""Plot GPU allocation ratio against arrived GPU demand, one panel per workload (matplotlib).

Takes plain series, not simulator types, so any driver (simulator, server) can plot its results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class AllocationSeries:
    panel: str
    """Panel title, e.g. ``openb default (10 seeds)``."""
    label: str
    arrived_pct: NDArray[np.int64]
    allocation_pct: NDArray[np.float64]


def plot_allocation(series: Sequence[AllocationSeries], path: Path) -> None:
    panels = list(dict.fromkeys(s.panel for s in series))
    cols = min(len(panels), 3)
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4.2 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        for s in sorted((s for s in series if s.panel == panel), key=lambda s: s.label):
            ax.plot(s.arrived_pct, s.allocation_pct, label=s.label, linewidth=1.4)
        diagonal = np.arange(0, 131)
        ax.plot(diagonal, np.minimum(diagonal, 100), color="grey", linestyle=":", linewidth=1)
        ax.set_title(panel)
        ax.set_xlabel("arrived GPU demand (% of capacity)")
        ax.set_ylabel("GPU allocation ratio (%)")
        ax.set_xlim(60, 130)
        ax.set_ylim(60, 100)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
