"""Demand history from job records: GPU-hours per period, the input of ``planning.forecast``.

Two sources:

- a usage CSV, one record per job or allocation: ``start,end,gpus[,project][,gpu]``. ``start``
  and ``end`` are ISO 8601 datetimes (without a zone: UTC) or epoch seconds; ``gpus`` may be
  fractional (a shared GPU). An empty ``end`` means the job was still running: it counts until the
  history's end, the latest time in the file. ``project`` selects records (the window, origin to
  end, stays the whole file's, so projects line up); ``gpu`` names the model when the caller passes
  an ``efficiency`` table (H100-equivalents per GPU of each model; without a table every GPU
  counts 1).
- the openb trace (``openb_pod_list_*.csv``, read by ``openb.read_pod_spans``): a pod holds
  ``num_gpu * gpu_milli / 1000`` GPUs from ``creation_time`` to ``deletion_time``, in seconds from
  the trace's start. Every pod counts, whatever its phase (a pending pod asked for GPUs: that is
  demand). A pod without ``deletion_time`` runs to the trace's end, the latest time in the file.

A record is split across the periods it spans: each period gets ``gpus x`` the hours of overlap.
Periods are ``period_hours`` long (``PERIOD_HOURS``: day 24, week 168, month 730) from an origin:
the CSV's earliest start floored to a UTC midnight, the openb trace's 0 (or ``origin_s``). The
last period is left out when the history ends inside it (a partial period would read as a drop in
demand) unless ``keep_partial``. Every problem names the file, line and column.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gpufleet.planning.scenario_file import PERIOD_HOURS
from gpufleet.sim.traces.openb import TraceError, read_pod_spans, read_rows

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86_400

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageHistory:
    gpu_hours: Array
    """(T,) GPU-hours (H100-equivalent when an efficiency table was given) per period."""
    period_start_s: Array
    """(T,) each period's start on the source's clock: epoch seconds, or trace seconds."""
    labels: tuple[str, ...]
    """Each period's start in words: ISO 8601 UTC, or ``t+48h`` on a trace's clock."""
    period_hours: float
    open_records: int
    """Records without an end, counted as running to the history's end."""
    end_s: float
    """The history's end on the source's clock (the last period may stop short of it)."""


def gpu_hours_per_period(
    start_s: Array, end_s: Array, gpus: Array, *, origin_s: float, period_hours: float, periods: int
) -> Array:
    """GPU-hours in each of ``periods`` periods from ``origin_s``: Σ gpus · overlap hours.

    With ``F(t) = Σ g·(clip(t, s, e) - s)``, the GPU-seconds used before ``t``, a period
    ``[a, b)`` gets ``F(b) - F(a)``. ``F(t) = Σ_{s<t} g·(t - s) - Σ_{e<t} g·(t - e)``, two prefix
    sums over sorted starts and ends: O((N + T) log N), no (N, T) matrix.
    """
    width_s = period_hours * SECONDS_PER_HOUR
    edges = np.arange(periods + 1, dtype=np.float64) * width_s
    used = _ramp(np.asarray(start_s) - origin_s, gpus, edges) - _ramp(
        np.asarray(end_s) - origin_s, gpus, edges
    )
    return np.maximum(np.diff(used), 0.0) / SECONDS_PER_HOUR  # max: rounding only


def _ramp(times: Array, weights: Array, at: Array) -> Array:
    """``Σ_{x < t} w·(t - x)`` for each ``t`` in ``at``."""
    order = np.argsort(times, kind="stable")
    x, w = times[order], np.asarray(weights, dtype=np.float64)[order]
    total_w = np.concatenate(([0.0], np.cumsum(w)))
    total_wx = np.concatenate(([0.0], np.cumsum(w * x)))
    count = np.searchsorted(x, at, side="left")
    return np.asarray(at * total_w[count] - total_wx[count], dtype=np.float64)


def read_usage_csv(
    path: Path,
    *,
    period_hours: float = PERIOD_HOURS["day"],
    efficiency: Mapping[str, float] | None = None,
    project: str | None = None,
    origin_s: float | None = None,
    keep_partial: bool = False,
) -> UsageHistory:
    """GPU-hours per period from a usage CSV (format in the module docstring)."""
    required = ("start", "end", "gpus", *(("gpu",) if efficiency is not None else ()))
    starts, ends, weights = [], [], []
    selected = 0
    for where, row in read_rows(path, required):
        start = _time(row, "start", where)
        end = _time(row, "end", where) if (row.get("end") or "").strip() else math.nan
        if end < start:
            raise TraceError(f"{where}: [end] {row['end'].strip()} is before start")
        weight = _gpus(row, where) * _efficiency(row, efficiency, where)
        if project is not None and (row.get("project") or "").strip() != project:
            # Another project's record still marks the file's window; it adds no GPU-hours.
            weight, end = 0.0, start if math.isnan(end) else end
        else:
            selected += 1
        starts.append(start)
        ends.append(end)
        weights.append(weight)
    if not selected:
        of = f" of project {project!r}" if project is not None else ""
        raise TraceError(f"{path}: no usage records{of}")
    origin = origin_s if origin_s is not None else min(starts) // SECONDS_PER_DAY * SECONDS_PER_DAY
    return _history(
        np.array(starts),
        np.array(ends),
        np.array(weights),
        origin_s=origin,
        period_hours=period_hours,
        keep_partial=keep_partial,
        label=_iso,
        source=str(path),
    )


def read_openb_history(
    path: Path,
    *,
    period_hours: float = PERIOD_HOURS["day"],
    origin_s: float = 0.0,
    keep_partial: bool = False,
) -> UsageHistory:
    """GPU-hours per period from an openb pod list (``openb_pod_list_default.csv``, ...).

    The trace holds the pods alive in its collection window: in ``default``, 8,114 of 8,152 pods
    were created after day 110 and none was deleted before day 115, so the earlier days count only
    the few long-lived pods. Pass ``origin_s`` (e.g. ``115 * 86_400``) to start at the window.
    """
    spans = read_pod_spans(path)
    if not spans:
        raise TraceError(f"{path}: no pods")
    return _history(
        np.array([s.creation_s for s in spans], dtype=np.float64),
        np.array([math.nan if s.deletion_s is None else s.deletion_s for s in spans]),
        np.array([s.gpus for s in spans]),
        origin_s=origin_s,
        period_hours=period_hours,
        keep_partial=keep_partial,
        label=lambda s: f"t+{s / SECONDS_PER_HOUR:g}h",
        source=str(path),
    )


def _history(
    starts: Array,
    ends: Array,
    gpus: Array,
    *,
    origin_s: float,
    period_hours: float,
    keep_partial: bool,
    label: Callable[[float], str],
    source: str,
) -> UsageHistory:
    if not period_hours > 0:
        raise ValueError(f"period_hours must be > 0, got {period_hours}")
    open_ = np.isnan(ends)
    end_s = float(np.nanmax(np.concatenate((starts, ends))))
    ends = np.where(open_, end_s, ends)
    width_s = period_hours * SECONDS_PER_HOUR
    span = (end_s - origin_s) / width_s
    periods = math.ceil(span) if keep_partial else math.floor(span)
    if periods < 1:
        raise TraceError(
            f"{source}: records cover {(end_s - origin_s) / SECONDS_PER_HOUR:g} h from the origin, "
            f"less than one whole period of {period_hours:g} h"
        )
    period_start_s = origin_s + np.arange(periods, dtype=np.float64) * width_s
    return UsageHistory(
        gpu_hours=gpu_hours_per_period(
            starts, ends, gpus, origin_s=origin_s, period_hours=period_hours, periods=periods
        ),
        period_start_s=period_start_s,
        labels=tuple(label(float(s)) for s in period_start_s),
        period_hours=period_hours,
        open_records=int(open_.sum()),
        end_s=end_s,
    )


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat()


# ---------------------------------------------------------------- CSV fields


def _time(row: dict[str, str], column: str, where: str) -> float:
    """Epoch seconds from epoch seconds or an ISO 8601 datetime (no zone: UTC)."""
    text = (row.get(column) or "").strip()
    try:
        value = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise TraceError(
                f"{where}: [{column}] neither epoch seconds nor an ISO 8601 datetime: {text!r}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    if not math.isfinite(value):
        raise TraceError(f"{where}: [{column}] not a finite time: {text!r}")
    return value


def _gpus(row: dict[str, str], where: str) -> float:
    text = (row.get("gpus") or "").strip()
    try:
        value = float(text)
    except ValueError:
        raise TraceError(f"{where}: [gpus] not a number: {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise TraceError(f"{where}: [gpus] must be a finite number >= 0, got {text!r}")
    return value


def _efficiency(row: dict[str, str], table: Mapping[str, float] | None, where: str) -> float:
    if table is None:
        return 1.0
    model = (row.get("gpu") or "").strip()
    if model not in table:
        known = ", ".join(sorted(table))
        raise TraceError(f"{where}: [gpu] {model!r} not in the efficiency table ({known})")
    return table[model]
