"""The simulation report: one HTML file with the metrics table and two embedded plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gpufleet.reports.sim_report import PolicyRun, write_plot, write_sim_report


def runs() -> list[PolicyRun]:
    return [
        PolicyRun("fifo", {"JCT h": 2.5, "preempt": 3, "p99 h": None},
                  np.array([1.0, 4.0, np.nan]), [(0.0, 0.5), (360.0, 1.0)]),
        PolicyRun("min-jct", {"JCT h": 1.25, "preempt": 0, "p99 h": 2.0},
                  np.array([0.5, 2.0, 1.25]), [(0.0, 1.0)]),
    ]  # fmt: skip


def test_the_report_has_the_table_and_both_plots(tmp_path: Path) -> None:
    path = tmp_path / "sim.html"
    write_sim_report(path, "toy <trace>", ["36 GPUs", "seed 0"], runs())
    html = path.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 2
    assert "toy &lt;trace&gt;" in html  # escaped
    assert "<td>min-jct</td>" in html
    assert "<td>1.25</td>" in html
    assert "<td>—</td>" in html  # a metric with no value
    assert "<td>3</td>" in html


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    path = tmp_path / "jct.png"
    write_plot(runs(), path)
    assert path.read_bytes()[:4] == b"\x89PNG"
