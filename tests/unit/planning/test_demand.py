"""Declared demand lines into scenarios: a split normal per period whose 5th, 50th and 95th
percentiles are the declared low, expected and high, correlated over time within a project."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from gpufleet.planning.demand import (
    Z95,
    declared_scenarios,
    existing_h100,
    quantile_lines,
)
from gpufleet.planning.scenario_file import DemandLine, ExistingCapacity

WEEK = 168.0
MANY = 20_000

# Tolerance of the sample percentiles, in units of the half-width they are measured against
# (high - expected for the 95th, expected - low for the 5th). A sample p-quantile of n draws has
# a standard error of sqrt(p (1 - p) / n) / phi(z_p) standard-normal units: 0.0150 at p = 0.05
# and 0.95, 0.0089 at the median, for n = 20,000. One half-width is Z95 = 1.645 such units, so
# one standard error is 0.0150 / 1.645 = 0.9% of it (0.5% at the median). 5% is over five
# standard errors: a correct sampler never fails it, a wrong scale (e.g. using the half-width
# as one standard deviation, 64% off) always does.
TOLERANCE = 0.05


def line(
    low: float | list[float],
    expected: float | list[float],
    high: float | list[float],
    *,
    periods: int = 4,
    gpu: str | None = None,
    project: str = "train",
) -> DemandLine:
    def series(value: float | list[float]) -> NDArray[np.float64]:
        return np.broadcast_to(np.asarray(value, dtype=np.float64), (periods,)).copy()

    return DemandLine(project, gpu, series(low), series(expected), series(high))


def draw(
    lines: list[DemandLine],
    *,
    scenarios: int = MANY,
    seed: int = 0,
    correlation: float = 0.0,
    period_hours: float = WEEK,
    unit: str = "gpus",
    efficiency: dict[str | None, float] | None = None,
) -> NDArray[np.float64]:
    table = efficiency or {}
    return declared_scenarios(
        lines,
        scenarios=scenarios,
        seed=seed,
        correlation=correlation,
        period_hours=period_hours,
        unit=unit,
        efficiency=lambda gpu: table.get(gpu, 1.0),
    )


@pytest.mark.parametrize("correlation", [0.0, 1.0])
def test_percentiles_are_the_declared_low_expected_and_high(correlation: float) -> None:
    # Asymmetric on purpose (down 30, up 60): each side has its own scale.
    gpus = draw([line(70, 100, 160)], correlation=correlation) / WEEK
    for t in range(gpus.shape[1]):
        p5, p50, p95 = np.percentile(gpus[:, t], [5, 50, 95])
        assert p5 == pytest.approx(70, abs=TOLERANCE * 30)
        assert p50 == pytest.approx(100, abs=TOLERANCE * 30)
        assert p95 == pytest.approx(160, abs=TOLERANCE * 60)


def test_percentiles_follow_a_ramp_period_by_period() -> None:
    ramp = line([40, 80, 120], [50, 100, 150], [70, 140, 210], periods=3)
    gpus = draw([ramp], correlation=0.8) / WEEK
    p5, p50, p95 = np.percentile(gpus, [5, 50, 95], axis=0)
    np.testing.assert_allclose(p5, ramp.low, atol=TOLERANCE * 10)
    np.testing.assert_allclose(p50, ramp.expected, atol=TOLERANCE * 10)
    np.testing.assert_allclose(p95, ramp.high, atol=TOLERANCE * 20)


def test_full_correlation_keeps_a_project_high_or_low_for_the_whole_horizon() -> None:
    # Half-widths differ per period (and per side), so the raw deviations differ; the
    # standardised ones, v = (value - expected) / half-width * Z95, are one draw per scenario.
    ramp = line([40, 80, 120, 160], [50, 100, 150, 200], [70, 140, 210, 280])
    gpus = draw([ramp], scenarios=2_000, correlation=1.0) / WEEK
    half_width = np.where(
        gpus >= ramp.expected, ramp.high - ramp.expected, ramp.expected - ramp.low
    )
    v = (gpus - ramp.expected) / half_width * Z95
    np.testing.assert_allclose(v, v[:, :1].repeat(4, axis=1), atol=1e-9)
    assert v[:, 0].std() == pytest.approx(1.0, abs=0.1)  # still a standard normal draw


@pytest.mark.parametrize(("correlation", "between_periods"), [(0.0, 0.0), (0.5, 0.25), (0.8, 0.64)])
def test_correlation_over_time_is_rho_squared_between_periods(
    correlation: float, between_periods: float
) -> None:
    # v_t = rho z + sqrt(1 - rho^2) e_t, so corr(v_t, v_s) = rho^2. With a symmetric line the
    # value is linear in v, so the values correlate the same (standard error 1/sqrt(n) < 0.01).
    gpus = draw([line(70, 100, 130, periods=2)], correlation=correlation)
    assert np.corrcoef(gpus.T)[0, 1] == pytest.approx(between_periods, abs=0.03)


def test_projects_are_independent_of_one_another() -> None:
    a = line(70, 100, 130, periods=1, project="a")
    b = line(70, 100, 130, periods=1, project="b")
    both = draw([a, b], correlation=1.0)
    alone = draw([a], correlation=1.0)
    # The sum of two independent equal lines spreads sqrt(2) times one line's spread.
    assert both.std() / alone.std() == pytest.approx(np.sqrt(2), rel=0.03)
    assert both.mean() == pytest.approx(2 * alone.mean(), rel=0.01)


def test_unit_gpus_counts_a_whole_period_of_hours_gpu_hours_does_not() -> None:
    lines = [line(70, 100, 130)]
    gpus = draw(lines, scenarios=50, unit="gpus", period_hours=730.0)
    gpu_hours = draw(lines, scenarios=50, unit="gpu-hours", period_hours=730.0)
    np.testing.assert_allclose(gpus, gpu_hours * 730.0)
    flat = [line(100, 100, 100)]  # no uncertainty: exactly the declared number
    np.testing.assert_allclose(draw(flat, scenarios=3, period_hours=24.0), 2400.0)
    np.testing.assert_allclose(draw(flat, scenarios=3, unit="gpu-hours"), 100.0)


def test_efficiency_scales_each_line_by_its_model() -> None:
    h100 = line(100, 100, 100, periods=2)
    a100 = line(100, 100, 100, periods=2, gpu="A100-80GB")
    out = draw([h100, a100], scenarios=3, unit="gpu-hours", efficiency={"A100-80GB": 0.3})
    np.testing.assert_allclose(out, 100 + 30)
    seen: list[str | None] = []
    declared_scenarios(
        [h100, a100], scenarios=1, seed=0, correlation=0.5, period_hours=WEEK, unit="gpus",
        efficiency=lambda gpu: seen.append(gpu) or 1.0,
    )  # fmt: skip
    assert seen == [None, "A100-80GB"]  # each line asks for its own model


def test_values_are_never_negative() -> None:
    # low = 0: the split normal's lower tail (5% of draws) falls below zero and is clipped.
    gpus = draw([line(0, 10, 50)], correlation=0.3) / WEEK
    assert gpus.min() == 0.0
    assert (gpus == 0).mean() == pytest.approx(0.05, abs=0.01)
    assert np.percentile(gpus, 50) == pytest.approx(10, abs=TOLERANCE * 10)


def test_the_same_seed_draws_the_same_scenarios() -> None:
    lines = [line(70, 100, 160), line(0, 5, 20, gpu="A100-80GB")]
    first = draw(lines, scenarios=100, seed=42, correlation=0.7)
    again = draw(lines, scenarios=100, seed=42, correlation=0.7)
    other = draw(lines, scenarios=100, seed=43, correlation=0.7)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert first.shape == (100, 4)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="no declared demand lines"):
        draw([])
    with pytest.raises(ValueError, match=r"correlation must be in \[0, 1\]"):
        draw([line(1, 2, 3)], correlation=1.5)


def test_quantile_lines_sum_the_declared_numbers() -> None:
    summed = quantile_lines([line(1, 2, 3), line(10, 20, 30)])
    assert {k: v.tolist() for k, v in summed.items()} == {
        "low": [11.0] * 4,
        "expected": [22.0] * 4,
        "high": [33.0] * 4,
    }


def test_existing_h100_sums_spans_at_each_models_efficiency() -> None:
    existing = [
        ExistingCapacity(gpu=None, gpus=16, first=0, last=2),
        ExistingCapacity(gpu="A100-80GB", gpus=10, first=2, last=5),
        ExistingCapacity(gpu="H100-SXM", gpus=4, first=5, last=5, supplier="colo"),
    ]
    efficiency = {"A100-80GB": 0.3, "H100-SXM": 1.0}
    out = existing_h100(existing, 7, lambda gpu: efficiency.get(gpu or "", 1.0))
    assert out is not None
    np.testing.assert_allclose(out, [16, 16, 16 + 3, 3, 3, 3 + 4, 0])
    assert existing_h100([], 7, lambda gpu: 1.0) is None
