"""Demand forecasts: hand-checkable point forecasts, backtests and scenario invariants."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpufleet.domain.offer import ContractKind
from gpufleet.planning.forecast import QUANTILE_LEVELS, forecast, smape_pct
from gpufleet.planning.milp import plan
from gpufleet.planning.problem import CapacityOption, PlanningProblem

WEEK = np.array([10.0, 12.0, 14.0, 13.0, 11.0, 3.0, 2.0])
LINE = 100.0 + 5.0 * np.arange(30)


def noisy_weeks(weeks: int, sd: float = 0.5) -> np.ndarray:
    return np.abs(np.tile(WEEK, weeks) + np.random.default_rng(1).normal(0, sd, 7 * weeks))


# ---------------------------------------------------------------- point forecasts


def test_seasonal_naive_repeats_the_last_season() -> None:
    history = noisy_weeks(4)
    result = forecast(history, 14, model="seasonal-naive", season=7)
    assert result.model == "seasonal-naive"
    assert result.season == 7
    np.testing.assert_array_equal(result.mean, np.tile(history[-7:], 2))


def test_seasonal_naive_on_an_exact_weekly_pattern_reproduces_it() -> None:
    result = forecast(np.tile(WEEK, 3), 10, model="seasonal-naive", season=7)
    np.testing.assert_array_equal(result.mean, np.concatenate((WEEK, WEEK[:3])))
    assert result.backtest_smape_pct == 0.0


def test_without_a_season_it_is_the_naive_method() -> None:
    result = forecast(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), 2, model="seasonal-naive")
    assert result.model == "naive"
    assert result.season is None
    np.testing.assert_array_equal(result.mean, [6.0, 6.0])
    # Holdout k = min(horizon 2, n // 3 = 2, n - 1) = 2: train 1..4 forecasts 4, 4 for 5, 6.
    # sMAPE = 100/2 * (2*1/9 + 2*2/10) = 31.11 %.
    assert result.backtest_periods == 2
    assert result.backtest_smape_pct == pytest.approx(50 * (2 / 9 + 4 / 10))


def test_ets_on_a_linear_trend_forecasts_upward() -> None:
    result = forecast(LINE, 10, model="ets")
    assert result.model == "ets"
    assert result.mean[0] > LINE[-1]
    assert np.all(np.diff(result.mean) > 0)
    assert result.backtest_smape_pct is not None
    assert result.backtest_smape_pct < 5


def test_ets_is_seasonal_with_two_seasons_of_history() -> None:
    result = forecast(noisy_weeks(6), 7, model="ets", season=7)
    assert (result.model, result.season) == ("ets", 7)
    assert np.argmax(result.mean) == np.argmax(WEEK)
    short = forecast(noisy_weeks(1)[:6].repeat(2), 3, model="ets", season=7)  # 12 < 2 seasons
    assert short.season is None
    assert any("ETS without season" in n for n in short.notes)


def test_smape_of_hand_cases() -> None:
    assert smape_pct(np.array([0.0]), np.array([0.0])) == 0.0
    assert smape_pct(np.array([1.0]), np.array([3.0])) == pytest.approx(100.0)
    assert smape_pct(np.array([0.0, 2.0]), np.array([5.0, 2.0])) == pytest.approx(100.0)


# ---------------------------------------------------------------- auto


def test_auto_picks_ets_on_a_trend() -> None:
    result = forecast(LINE, 10)
    assert result.model == "ets"
    assert set(result.candidates) == {"naive", "ets"}
    assert result.candidates["ets"] < result.candidates["naive"]
    assert result.backtest_smape_pct == result.candidates["ets"]


def test_auto_picks_seasonal_naive_on_a_repeating_week() -> None:
    result = forecast(np.tile(WEEK, 6), 7, season=7)
    assert result.model == "seasonal-naive"
    assert set(result.candidates) == {"seasonal-naive", "ets"}
    assert result.candidates["seasonal-naive"] == 0.0


def test_auto_falls_back_and_says_why() -> None:
    short = forecast(np.array([4.0, 5.0, 6.0, 5.0]), 3)
    assert short.model == "naive"
    assert any("too short for ETS" in n for n in short.notes)
    flat = forecast(np.full(20, 5.0), 3)
    assert flat.model == "naive"
    assert any("constant" in n for n in flat.notes)
    np.testing.assert_array_equal(flat.scenarios, 5.0)
    week = forecast(np.tile(WEEK, 2)[:5], 3, season=7)
    assert week.model == "naive"
    assert any("shorter than one season" in n for n in week.notes)
    # 10 periods allow ETS, but a backtest would leave it fewer than 10 to fit.
    untested = forecast(LINE[:10], 3)
    assert untested.model == "naive"
    assert any("too short to backtest ETS" in n for n in untested.notes)


def test_a_single_period_gives_no_backtest_and_flat_scenarios() -> None:
    result = forecast(np.array([3.0]), 4, scenarios=5)
    assert result.backtest_smape_pct is None
    assert result.backtest_periods == 0
    np.testing.assert_array_equal(result.scenarios, np.full((5, 4), 3.0))


def test_statsmodels_warnings_become_notes_not_warnings() -> None:
    # A constant series makes the ETS optimiser report a ConvergenceWarning; the suite turns
    # warnings into errors, so this passing shows it was caught.
    result = forecast(np.full(20, 5.0), 3, model="ets")
    assert result.mean == pytest.approx([5.0, 5.0, 5.0])
    assert all(n.startswith("ets fit: ") for n in result.notes)


# ---------------------------------------------------------------- scenarios


@pytest.mark.parametrize("model", ["seasonal-naive", "ets"])
def test_scenarios_shape_non_negative_and_seeded(model: str) -> None:
    history = noisy_weeks(5, sd=3.0)  # weekends near 0: unclipped paths would go below it
    one = forecast(history, 14, model=model, season=7, scenarios=300, seed=3)
    assert one.scenarios.shape == (300, 14)
    assert one.mean.shape == (14,)
    assert (one.scenarios >= 0).all()
    assert (one.scenarios == 0).any()
    again = forecast(history, 14, model=model, season=7, scenarios=300, seed=3)
    np.testing.assert_array_equal(one.scenarios, again.scenarios)
    other = forecast(history, 14, model=model, season=7, scenarios=300, seed=4)
    assert not np.array_equal(one.scenarios, other.scenarios)


@pytest.mark.parametrize("model", ["auto", "seasonal-naive", "ets"])
def test_quantiles_are_ordered(model: str) -> None:
    result = forecast(noisy_weeks(5), 10, model=model, season=7)
    assert {0.05, 0.5, 0.95} <= set(result.quantiles)
    levels = sorted(result.quantiles)
    assert levels == list(QUANTILE_LEVELS)
    for low, high in itertools.pairwise(levels):
        assert (result.quantiles[low] <= result.quantiles[high]).all()


def test_seasonal_naive_spread_grows_with_seasons_ahead() -> None:
    # y[t] = y[t-7] + e: the second week ahead carries two errors, the first one.
    result = forecast(noisy_weeks(8), 14, model="seasonal-naive", season=7, scenarios=4000)
    first, second = result.scenarios[:, :7].std(axis=0), result.scenarios[:, 7:].std(axis=0)
    assert second.mean() / first.mean() == pytest.approx(np.sqrt(2), rel=0.1)
    naive = forecast(np.cumsum(np.ones(30)), 9, model="seasonal-naive", scenarios=10)
    assert naive.model == "naive"  # every step is 1: centred residuals are 0, paths stay at 30
    np.testing.assert_array_equal(naive.scenarios, 30.0)


@settings(max_examples=40, deadline=None)
@given(
    history=st.lists(st.floats(0, 1e6), min_size=1, max_size=40),
    horizon=st.integers(1, 12),
    season=st.none() | st.integers(1, 8),
)
def test_seasonal_naive_invariants(history: list[float], horizon: int, season: int | None) -> None:
    y = np.array(history)
    if season is not None and season > 1 and y.size < season:
        season = None
    result = forecast(y, horizon, model="seasonal-naive", season=season, scenarios=20)
    assert result.scenarios.shape == (20, horizon)
    assert (result.scenarios >= 0).all()
    assert (result.mean >= 0).all()
    assert (result.quantiles[0.05] <= result.quantiles[0.95]).all()


def test_scenarios_feed_the_planner() -> None:
    result = forecast(LINE, 3, scenarios=20)
    on_demand = CapacityOption(
        name="od",
        supplier="cloud",
        gpus_per_unit=1.0,
        contract=ContractKind.ON_DEMAND,
        price_usd_per_unit_hour=2.0,
    )
    problem = PlanningProblem(
        period_hours=np.full(3, 24.0), options=(on_demand,), demand=result.scenarios
    )
    assert problem.scenarios == 20
    assert plan(problem).status == "optimal"


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("history", "kwargs", "message"),
    [
        ([], {}, "history is empty"),
        ([1.0, np.nan, 2.0], {}, "NaN/infinite value.*index 1"),
        ([1.0, -2.0], {}, "negative GPU-hours: index 1 is -2"),
        ([[1.0, 2.0]], {}, "one-dimensional"),
        ([1.0, 2.0], {"horizon": 0}, "horizon must be >= 1"),
        ([1.0, 2.0], {"model": "arima"}, "unknown model 'arima'"),
        ([1.0, 2.0], {"season": 0}, "season must be >= 1"),
        ([1.0, 2.0], {"scenarios": 0}, "scenarios must be >= 1"),
        ([1.0, 2.0], {"model": "ets"}, "ets needs at least 10 periods"),
        ([1.0, 2.0], {"model": "seasonal-naive", "season": 7}, "at least one season"),
    ],
)
def test_bad_input_says_what_is_wrong(
    history: list[object], kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"horizon": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        forecast(np.array(history, dtype=float), **args)  # type: ignore[arg-type]
