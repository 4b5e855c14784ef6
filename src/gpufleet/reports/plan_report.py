"""The procurement plan as one self-contained HTML file: the orders, our plan against every
baseline and the perfect-foresight bound, and two plots (capacity by contract kind stacked
against demand over time; the out-of-sample cost distribution of each strategy).

Plots are matplotlib PNGs embedded as data URIs, so the file can be mailed or archived alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import NDArray

from gpufleet.domain.offer import ContractKind
from gpufleet.planning.assemble import Assembled
from gpufleet.planning.study import OURS, Study
from gpufleet.reports.html import png_base64, render

STACK_ORDER = (ContractKind.OWNED, ContractKind.RESERVED, ContractKind.ON_DEMAND, ContractKind.SPOT)
"""Commitments at the bottom of the capacity plot, what is rented on top."""
KIND_COLOURS = {
    "existing": "#7f7f7f",
    ContractKind.OWNED.value: "#1f4e79",
    ContractKind.RESERVED.value: "#2e86c1",
    ContractKind.ON_DEMAND.value: "#f5b041",
    ContractKind.SPOT.value: "#58d68d",
}


def capacity_by_kind(assembled: Assembled, study: Study) -> dict[str, NDArray[np.float64]]:
    """H100-equivalent GPUs per period by contract kind: committed units active (as delivered,
    after reliability), expected flexible use, and the existing fleet."""
    problem = assembled.in_sample
    periods = problem.periods
    options = {o.name: o for o in problem.options}
    layers: dict[str, NDArray[np.float64]] = {}
    if problem.existing_h100 is not None:
        layers["existing"] = problem.existing_h100.copy()
    for order in study.plan.orders:
        option = options[order.option]
        layer = layers.setdefault(option.contract.value, np.zeros(periods))
        end = min(order.start_period + order.term_periods, periods)
        layer[order.start_period : end] += order.units * option.h100_per_unit * option.reliability
    for name, unit_hours in study.plan.flexible_unit_hours.items():
        option = options[name]
        layer = layers.setdefault(option.contract.value, np.zeros(periods))
        layer += unit_hours * option.h100_per_unit / problem.period_hours
    stacking = ["existing", *(k.value for k in STACK_ORDER)]
    return {k: layers[k] for k in stacking if k in layers}


def capacity_plot(assembled: Assembled, study: Study) -> str:
    problem = assembled.in_sample
    gpus = problem.demand / problem.period_hours
    t = np.arange(problem.periods)
    fig, ax = plt.subplots(figsize=(9, 4.2))
    layers = capacity_by_kind(assembled, study)
    if layers:
        ax.stackplot(
            t,
            *layers.values(),
            labels=[k.replace("_", "-") for k in layers],
            colors=[KIND_COLOURS[k] for k in layers],
            alpha=0.85,
            step="post",
        )
    for pct, label in ((95, "demand, 5th and 95th percentile"), (5, None)):
        ax.step(t, np.percentile(gpus, pct, axis=0), where="post", color="black", lw=1,
                ls="--", label=label)  # fmt: skip
    ax.step(t, gpus.mean(axis=0), where="post", color="black", lw=1.8, label="expected demand")
    ax.set_xlabel(f"{assembled.scenario.period} (from the start of the plan)")
    ax.set_ylabel("H100-equivalent GPUs")
    ax.set_title("Capacity by contract kind against demand (expected use of rented capacity)")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return png_base64(fig)


def cost_plot(study: Study) -> str:
    rows = [e for e in study.evaluations if e.cost_per_scenario_usd.size]
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(rows) + 1.6))
    data = [e.cost_per_scenario_usd / 1e3 for e in rows]
    box = ax.boxplot(
        data, orientation="horizontal", whis=(5, 95), showfliers=False, patch_artist=True
    )
    for patch, e in zip(box["boxes"], rows, strict=True):
        patch.set_facecolor("#2e86c1" if e.name == OURS else "#d5d8dc")
    ax.set_yticks(range(1, len(rows) + 1), [e.name for e in rows])
    ax.scatter([e.expected_cost_usd / 1e3 for e in rows], range(1, len(rows) + 1), marker="D",
               color="black", zorder=3, label="expected")  # fmt: skip
    low = min(float(np.percentile(d, 5)) for d in data)
    high = max(float(np.percentile(d, 95)) for d in data)
    if low > 0 and high / low > 4:
        ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("cost per scenario, thousand USD (box: quartiles; whiskers: 5th-95th pct.)")
    ax.set_title("Out-of-sample cost distribution per strategy")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return png_base64(fig)


def render_plan_report(assembled: Assembled, study: Study, notes: Sequence[str]) -> str:
    scenario = assembled.scenario
    options = {o.name: o for o in assembled.in_sample.options}
    orders = [
        {
            "start": scenario.period_label(o.start_period),
            "supplier": o.supplier,
            "offer": o.option.removeprefix(o.supplier + "/"),
            "units": o.units,
            "gpus": f"{o.units * options[o.option].gpus_per_unit:g}",
            "term": f"{o.term_periods} {scenario.period}s",
            "cost": o.cost_usd,
        }
        for o in study.plan.orders
    ]
    rented = sorted(
        (
            {
                "name": name,
                "kind": options[name].contract.value,
                "gpu_hours": float(hours.sum()) * options[name].gpus_per_unit,
            }
            for name, hours in study.plan.flexible_unit_hours.items()
            if hours.sum() > 1e-6
        ),
        key=lambda r: -float(r["gpu_hours"]),
    )
    return render(
        "plan.html.j2",
        s=scenario,
        study=study,
        plan=study.plan,
        ours=OURS,
        options=len(assembled.in_sample.options),
        suppliers=len(assembled.in_sample.suppliers),
        orders=orders,
        rented=rented,
        notes=list(notes),
        capacity_png=capacity_plot(assembled, study),
        cost_png=cost_plot(study),
    )


def write_plan_report(path: Path, assembled: Assembled, study: Study, notes: Sequence[str]) -> None:
    path.write_text(render_plan_report(assembled, study, notes), encoding="utf-8")
