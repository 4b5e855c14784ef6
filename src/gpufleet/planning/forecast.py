"""Demand forecasts turned into scenarios for the procurement planner.

``forecast(history, horizon)`` takes GPU-hours per period (from ``gpufleet.sim.traces.usage`` or
any other source) and returns a point forecast, quantiles and ``S`` sample paths, shape ``(S, H)``,
that the planner takes as its demand scenarios (``PlanningProblem.demand``).

Models, each small and well understood:

``naive`` / ``seasonal-naive``
    Repeat the last value / the last season: ``ŷ[n+h] = y[n+h-m(k+1)]``, ``k = (h-1) // m``.
    Sample paths follow the model the method is optimal for, a seasonal random walk
    ``y[t] = y[t-m] + e[t]``, with ``e`` drawn by **bootstrap** from the centred seasonal
    differences ``y[t] - y[t-m]`` of the history. A path's spread therefore grows with the square
    root of the number of *seasons* ahead, ``sqrt(k+1)`` (for ``naive``, ``m = 1``: of steps
    ahead), as in Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, §5.5.
``ets``
    statsmodels' ``ETSModel``: additive error, additive damped trend, additive seasonality when a
    ``season`` is given and the history holds at least two seasons (and more observations than the
    model has parameters). Sample paths are the fitted model's ``simulate(anchor="end")`` with
    normal errors drawn from the seeded generator, scaled by the fit's residual standard deviation.
``auto``
    Backtests both on the same holdout and keeps the one with the lower sMAPE (a tie keeps the
    seasonal naive). It falls back to the (seasonal) naive when the history is too short or too
    flat for ETS and says so in ``Forecast.notes``.

Guarantees: pure (no I/O, no clock); the result depends only on the arguments, randomness only on
``seed``; ``scenarios`` and ``quantiles`` are never negative (paths are clipped at 0: demand cannot
be negative); ``mean`` is the model's point forecast clipped at 0; quantiles are taken from the
clipped paths, so they are the scenarios the planner will see. statsmodels' warnings are caught
locally and reported in ``notes``.

Backtest: the last ``k = min(horizon, n // 3, n - m_min)`` periods are held out, the model is
fitted to the rest (``m_min``: the fewest observations it needs) and its point forecast scored by
sMAPE in percent, ``100/k · Σ 2|f - a| / (|f| + |a|)`` (a period where both are 0 scores 0).
``None`` when ``k < 1``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

MODELS = ("auto", "seasonal-naive", "ets")
"""Models ``forecast`` accepts. The result's ``model`` is one of ``naive``, ``seasonal-naive``,
``ets`` (``naive`` is the seasonal naive without a season)."""
QUANTILE_LEVELS = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
ETS_MIN_OBS = 10
"""Fewest observations for a non-seasonal damped-trend ETS (5 parameters: two per parameter)."""

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True)
class Forecast:
    """A point forecast, its quantiles and the sample paths drawn from the same model."""

    model: str
    """The model used: ``naive``, ``seasonal-naive`` or ``ets``."""
    mean: Array
    """Point forecast (H,), clipped at 0."""
    quantiles: Mapping[float, Array]
    """Level (``QUANTILE_LEVELS``) -> (H,), from the scenarios; ordered level by level."""
    scenarios: Array
    """(S, H) non-negative sample paths: the planner's demand scenarios."""
    backtest_smape_pct: float | None
    """The chosen model's holdout sMAPE in percent; ``None`` if the history is too short."""
    backtest_periods: int
    """Periods held out for the backtest (0 when there was none)."""
    candidates: Mapping[str, float]
    """sMAPE of every model backtested (``auto`` compares two; otherwise the one)."""
    season: int | None
    """The season the model used (``None``: non-seasonal)."""
    notes: tuple[str, ...] = field(default=())
    """Fallbacks taken and warnings caught, in words."""


@dataclass(frozen=True, slots=True)
class _Fit:
    point: Array
    paths: Array | None
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Spec:
    """A model with its settings for one history: what to fit and how much it needs."""

    name: str
    season: int | None
    min_obs: int
    fit: Callable[[Array, int, int, np.random.Generator], _Fit]


def forecast(
    history: Array,
    horizon: int,
    *,
    model: str = "auto",
    season: int | None = None,
    scenarios: int = 200,
    seed: int = 0,
) -> Forecast:
    """Forecast ``horizon`` periods after ``history`` (GPU-hours per period, oldest first)."""
    y = _validated(history, horizon, model, season, scenarios)
    notes: list[str] = []
    naive = _naive_spec(y, season, notes)
    ets = _ets_spec(y, season, notes)
    if model == "auto":
        chosen, candidates, k = _auto(y, horizon, naive, ets, notes)
    else:
        chosen = _explicit(model, y, season, naive, ets)
        candidates, k = _backtest((chosen,), y, horizon)
    fit = chosen.fit(y, horizon, scenarios, np.random.default_rng(seed))
    notes.extend(fit.notes)
    paths = np.maximum(fit.paths if fit.paths is not None else fit.point[None, :], 0.0)
    return Forecast(
        model=chosen.name,
        mean=np.maximum(fit.point, 0.0),
        quantiles={q: np.quantile(paths, q, axis=0) for q in QUANTILE_LEVELS},
        scenarios=paths,
        backtest_smape_pct=candidates.get(chosen.name),
        backtest_periods=k,
        candidates=candidates,
        season=chosen.season,
        notes=tuple(notes),
    )


def smape_pct(forecast_: Array, actual: Array) -> float:
    """Symmetric mean absolute percentage error, 0..200; a period where both are 0 scores 0."""
    total = np.abs(forecast_) + np.abs(actual)
    terms = np.divide(
        2.0 * np.abs(forecast_ - actual), total, out=np.zeros_like(total), where=total > 0
    )
    return float(100.0 * terms.mean())


# ---------------------------------------------------------------- choice and backtest


def _explicit(model: str, y: Array, season: int | None, naive: _Spec, ets: _Spec | None) -> _Spec:
    if model == "ets":
        if ets is None:
            raise ValueError(
                f"ets needs at least {ETS_MIN_OBS} periods of history, got {y.size}; "
                "use model='seasonal-naive' or 'auto'"
            )
        return ets
    if season is not None and season > 1 and naive.season is None:
        raise ValueError(
            f"seasonal-naive needs at least one season of history: "
            f"season {season}, history {y.size} periods"
        )
    return naive


def _auto(
    y: Array, horizon: int, naive: _Spec, ets: _Spec | None, notes: list[str]
) -> tuple[_Spec, dict[str, float], int]:
    if ets is None:
        return (naive, *_backtest((naive,), y, horizon))
    if np.ptp(y) == 0:
        notes.append(f"history is constant; ETS not fitted, used {naive.name}")
        return (naive, *_backtest((naive,), y, horizon))
    candidates, k = _backtest((naive, ets), y, horizon)
    if ets.name not in candidates:
        reason = (
            "ETS failed to fit the backtest's training periods"
            if k
            else f"history of {y.size} periods too short to backtest ETS (needs > {ets.min_obs})"
        )
        notes.append(f"{reason}; used {naive.name}")
        return (naive, *_backtest((naive,), y, horizon))
    best = ets if candidates[ets.name] < candidates[naive.name] else naive
    return best, candidates, k


def _backtest(specs: tuple[_Spec, ...], y: Array, horizon: int) -> tuple[dict[str, float], int]:
    """sMAPE of each spec on the same holdout; a spec that cannot be scored is left out."""
    k = min(horizon, y.size // 3, y.size - max(s.min_obs for s in specs))
    if k < 1:
        return {}, 0
    train, test = y[:-k], y[-k:]
    errors = {}
    for spec in specs:
        try:
            point = spec.fit(train, k, 0, np.random.default_rng(0)).point
            errors[spec.name] = smape_pct(np.maximum(point, 0.0), test)
        except (ValueError, np.linalg.LinAlgError):
            continue  # an ETS fit that fails on the shorter history is simply not a candidate
    return errors, k


# ---------------------------------------------------------------- (seasonal) naive


def _naive_spec(y: Array, season: int | None, notes: list[str]) -> _Spec:
    m = season if season is not None and season > 1 else None
    if m is not None and y.size < m:
        notes.append(f"history of {y.size} periods is shorter than one season ({m}); used naive")
        m = None

    def fit(train: Array, horizon: int, scenarios: int, rng: np.random.Generator) -> _Fit:
        return _seasonal_naive(train, horizon, m or 1, scenarios, rng)

    return _Spec("seasonal-naive" if m else "naive", m, m or 1, fit)


def _seasonal_naive(
    y: Array, horizon: int, m: int, scenarios: int, rng: np.random.Generator
) -> _Fit:
    steps = np.arange(horizon)
    point = y[y.size - m + steps % m]
    if scenarios == 0:
        return _Fit(point, None, ())
    residuals = y[m:] - y[:-m]
    if residuals.size == 0:
        note = f"history of {y.size} period(s) leaves no residuals: scenarios = point forecast"
        return _Fit(point, np.tile(point, (scenarios, 1)), (note,))
    draws = rng.choice(residuals - residuals.mean(), size=(scenarios, horizon), replace=True)
    paths = np.empty((scenarios, m + horizon))
    paths[:, :m] = y[-m:]
    for h in range(horizon):  # y[t] = y[t-m] + e[t]: the spread grows with seasons ahead
        paths[:, m + h] = paths[:, h] + draws[:, h]
    return _Fit(point, paths[:, m:], ())


# ---------------------------------------------------------------- ETS, from statsmodels


def _ets_spec(y: Array, season: int | None, notes: list[str]) -> _Spec | None:
    seasonal_min = max(2 * season, season + 6) if season is not None and season > 1 else None
    if seasonal_min is not None and y.size >= seasonal_min:
        m: int | None = season
        min_obs = seasonal_min
    elif y.size >= ETS_MIN_OBS:
        if seasonal_min is not None:
            notes.append(
                f"history of {y.size} periods holds fewer than {seasonal_min} "
                f"(two seasons of {season} and enough for the parameters): ETS without season"
            )
        m, min_obs = None, ETS_MIN_OBS
    else:
        notes.append(f"history of {y.size} periods too short for ETS (needs {ETS_MIN_OBS})")
        return None

    def fit(train: Array, horizon: int, scenarios: int, rng: np.random.Generator) -> _Fit:
        return _ets(train, horizon, m, scenarios, rng)

    return _Spec("ets", m, min_obs, fit)


def _ets(y: Array, horizon: int, m: int | None, scenarios: int, rng: np.random.Generator) -> _Fit:
    # Fit on the series divided by its mean: the additive model is scale-equivariant and the
    # optimiser behaves better near 1 than near 10^6 GPU-hours.
    scale = float(y.mean()) or 1.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = ETSModel(
            y / scale,
            error="add",
            trend="add",
            damped_trend=True,
            seasonal="add" if m else None,
            seasonal_periods=m,
        )
        result = model.fit(disp=False)
        point = np.asarray(result.forecast(horizon), dtype=np.float64) * scale
        paths = None
        if scenarios > 0:
            errors = rng.standard_normal((horizon, scenarios)) * np.sqrt(result.scale)
            simulated = result.simulate(
                horizon, anchor="end", repetitions=scenarios, random_errors=errors
            )
            paths = np.asarray(simulated, dtype=np.float64).reshape(horizon, scenarios).T * scale
    if not np.all(np.isfinite(point)):
        raise ValueError("ETS fit gave a non-finite forecast")
    return _Fit(point, paths, _warning_notes(caught))


def _warning_notes(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
    counts: dict[str, int] = {}
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0]}"
        counts[text] = counts.get(text, 0) + 1
    return tuple(f"ets fit: {text} (x{n})" for text, n in counts.items())


# ---------------------------------------------------------------- input


def _validated(
    history: Array, horizon: int, model: str, season: int | None, scenarios: int
) -> Array:
    y = np.asarray(history, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"history must be one-dimensional, got shape {y.shape}")
    if y.size == 0:
        raise ValueError("history is empty: need at least one period of GPU-hours")
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise ValueError(f"history has {bad.size} NaN/infinite value(s), first at index {bad[0]}")
    negative = np.flatnonzero(y < 0)
    if negative.size:
        i = negative[0]
        raise ValueError(f"history has negative GPU-hours: index {i} is {y[i]:g}")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 period, got {horizon}")
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    if season is not None and season < 1:
        raise ValueError(f"season must be >= 1 period (or None), got {season}")
    if scenarios < 1:
        raise ValueError(f"scenarios must be >= 1, got {scenarios}")
    return y
