"""Charts as inline SVG geometry computed on the server (no chart library, no script).

A chart is a frozen value of numbers and pre-formatted coordinate strings; the template draws
it. Coordinates are built from floats; the one user-supplied string, a bar's label, reaches the
SVG only as text that the template's autoescaping escapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gpufleet.server.dashboard.history import Sample


@dataclass(frozen=True, slots=True, kw_only=True)
class LineChart:
    """A 0-100 % line over time in a ``width`` x ``height`` viewBox."""

    width: int
    height: int
    points: str
    """``x,y`` pairs for ``<polyline points>``."""
    area: str
    """The same line closed along the bottom edge, for a filled ``<polygon>``."""
    gridlines: tuple[tuple[float, str], ...]
    """``(y, label)`` for 0, 50 and 100 %."""
    span_s: float
    """Seconds from the first sample to ``now``."""
    latest_pct: float
    samples: int


def utilisation_chart(
    samples: Sequence[Sample], now: datetime, *, width: int = 320, height: int = 80
) -> LineChart | None:
    """The samples as a line from the first one (left edge) to ``now`` (right edge); ``None``
    with fewer than two samples (a single point is no trend)."""
    if len(samples) < 2:
        return None
    start = samples[0].at
    span_s = max((now - start).total_seconds(), 1e-9)

    def y(pct: float) -> float:
        return round(height - min(max(pct, 0.0), 100.0) / 100.0 * height, 2)

    coords = [
        (round((s.at - start).total_seconds() / span_s * width, 2), y(s.utilisation_pct))
        for s in samples
    ]
    points = " ".join(f"{x},{py}" for x, py in coords)
    area = f"{coords[0][0]},{height} {points} {coords[-1][0]},{height}"
    return LineChart(
        width=width,
        height=height,
        points=points,
        area=area,
        gridlines=tuple((y(pct), f"{pct:.0f}%") for pct in (0.0, 50.0, 100.0)),
        span_s=span_s,
        latest_pct=samples[-1].utilisation_pct,
        samples=len(samples),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    label: str
    value: float
    y: float
    """Top edge."""
    length: float
    """Width of the bar, in viewBox units."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BarChart:
    """Horizontal bars, one per label, in a ``width`` x ``height`` viewBox; labels go left of
    ``x = 0`` and values right of each bar (the template leaves room for both)."""

    width: int
    height: int
    bar_height: int
    bars: tuple[Bar, ...]


def bar_chart(
    values: Sequence[tuple[str, float]], *, width: int = 320, bar_height: int = 16, gap: int = 6
) -> BarChart | None:
    """The values as bars scaled to the largest (negative ones drawn empty), in the order
    given; ``None`` when there is nothing to draw."""
    if not values:
        return None
    top = max(0.0, *(value for _, value in values))
    step = bar_height + gap
    bars = tuple(
        Bar(
            label=label,
            value=value,
            y=float(i * step),
            length=round(max(value, 0.0) / top * width, 2) if top > 0 else 0.0,
        )
        for i, (label, value) in enumerate(values)
    )
    return BarChart(width=width, height=len(bars) * step - gap, bar_height=bar_height, bars=bars)
