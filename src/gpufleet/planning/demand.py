"""Demand scenarios from declared needs: per project, per period, low / expected / high.

Each declared line gives, per period, a 5th percentile (``low``), a median (``expected``) and a
95th percentile (``high``). A scenario draws, for each project, one standard normal value per
period, correlated over time::

    v_pt = rho * z_p + sqrt(1 - rho^2) * e_pt        z_p, e_pt ~ N(0, 1) independent
    value_pt = expected_pt + v_pt / 1.645 * (high_pt - expected_pt)   if v_pt >= 0
             = expected_pt + v_pt / 1.645 * (expected_pt - low_pt)    otherwise

— a split normal whose 5th, 50th and 95th percentiles are exactly ``low``, ``expected`` and
``high`` — clipped at 0. ``rho`` (``correlation``) is how much of a project's deviation persists
from period to period: at 1 a project is high or low for the whole horizon, at 0 each period
is independent. Projects are independent of one another. Values are GPUs of the line's model
(or GPU-hours with ``unit: gpu-hours``), turned into H100-equivalent GPU-hours with the model's
efficiency.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from gpufleet.planning.scenario_file import DemandLine, ExistingCapacity

Z95 = 1.6448536269514722
"""The standard normal's 95th percentile."""


def declared_scenarios(
    lines: Sequence[DemandLine],
    *,
    scenarios: int,
    seed: int,
    correlation: float,
    period_hours: float,
    unit: str,
    efficiency: Callable[[str | None], float],
) -> NDArray[np.float64]:
    """(S, T) H100-equivalent GPU-hours summed over the declared lines."""
    if not lines:
        msg = "no declared demand lines"
        raise ValueError(msg)
    if not 0 <= correlation <= 1:
        msg = f"correlation must be in [0, 1], got {correlation}"
        raise ValueError(msg)
    horizon = lines[0].expected.size
    rng = np.random.default_rng(seed)
    total = np.zeros((scenarios, horizon))
    per_unit = 1.0 if unit == "gpu-hours" else period_hours
    for line in lines:
        z = rng.standard_normal((scenarios, 1))
        e = rng.standard_normal((scenarios, horizon))
        v = correlation * z + np.sqrt(1 - correlation**2) * e
        up = (line.high - line.expected) / Z95
        down = (line.expected - line.low) / Z95
        values = line.expected + np.where(v >= 0, v * up, v * down)
        total += np.maximum(values, 0.0) * per_unit * efficiency(line.gpu)
    return total


def quantile_lines(lines: Sequence[DemandLine]) -> dict[str, NDArray[np.float64]]:
    """The declared low / expected / high summed over lines (for reports; not a distribution of
    the sum, whose percentiles are narrower)."""
    return {
        "low": np.sum([line.low for line in lines], axis=0),
        "expected": np.sum([line.expected for line in lines], axis=0),
        "high": np.sum([line.high for line in lines], axis=0),
    }


def existing_h100(
    existing: Sequence[ExistingCapacity], horizon: int, efficiency: Callable[[str | None], float]
) -> NDArray[np.float64] | None:
    """H100-equivalent GPUs already in hand per period, or ``None`` when there are none."""
    if not existing:
        return None
    out = np.zeros(horizon)
    for item in existing:
        out[item.first : item.last + 1] += item.gpus * efficiency(item.gpu)
    return out
