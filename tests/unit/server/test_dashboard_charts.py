"""The dashboard's pure parts: the in-memory utilisation history, the SVG line's and bars'
geometry, the formats pages use for times, figures and money, and the costs window's edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gpufleet.server.dashboard.charts import bar_chart, utilisation_chart
from gpufleet.server.dashboard.history import Sample, UtilisationHistory
from gpufleet.server.dashboard.render import between, number, percent, seconds, usd, utc
from gpufleet.server.dashboard.session import safe_next
from gpufleet.server.dashboard.views_supply import parse_edge
from gpufleet.server.errors import BadInputError

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_history_keeps_spaced_samples_within_its_window() -> None:
    history = UtilisationHistory(window_s=60, min_step_s=2, max_samples=3)
    history.record(at(0), 10.0)
    history.record(at(1), 99.0)  # too soon after the last
    history.record(at(2), None)  # no telemetry
    history.record(at(5), 20.0)
    history.record(at(4), 30.0)  # older than the last
    assert [s.utilisation_pct for s in history.recent(at(10))] == [10.0, 20.0]
    history.record(at(10), 30.0)
    history.record(at(20), 40.0)  # over max_samples: the oldest goes
    assert [s.utilisation_pct for s in history.recent(at(20))] == [20.0, 30.0, 40.0]
    assert [s.utilisation_pct for s in history.recent(at(68))] == [30.0, 40.0]  # window


def test_history_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="window_s must be > 0"):
        UtilisationHistory(window_s=0)


def test_the_chart_spans_first_sample_to_now_and_clamps_percentages() -> None:
    samples = [Sample(at(0), 0.0), Sample(at(30), 150.0), Sample(at(45), 50.0)]
    chart = utilisation_chart(samples, at(60), width=100, height=50)
    assert chart is not None
    assert chart.points == "0.0,50.0 50.0,0.0 75.0,25.0"
    assert chart.area == "0.0,50 0.0,50.0 50.0,0.0 75.0,25.0 75.0,50"
    assert chart.gridlines == ((50.0, "0%"), (25.0, "50%"), (0.0, "100%"))
    assert (chart.span_s, chart.latest_pct, chart.samples) == (60.0, 50.0, 3)


def test_one_sample_is_no_chart() -> None:
    assert utilisation_chart([Sample(at(0), 40.0)], at(5)) is None


def test_bars_scale_to_the_largest_value_in_the_order_given() -> None:
    chart = bar_chart([("b", 30.0), ("a", 120.0), ("c", -5.0)], width=200, bar_height=10, gap=5)
    assert chart is not None
    assert [(b.label, b.y, b.length) for b in chart.bars] == [
        ("b", 0.0, 50.0), ("a", 15.0, 200.0), ("c", 30.0, 0.0),
    ]  # fmt: skip
    assert (chart.width, chart.height, chart.bar_height) == (200, 40, 10)
    nothing = bar_chart([("a", 0.0)])
    assert nothing is not None
    assert nothing.bars[0].length == 0.0
    assert bar_chart([]) is None


def test_money_and_fractions() -> None:
    assert (usd(1234.5), usd(2, 3), usd(75264.4, 0), usd(-3.5)) == (
        "$1,234.50", "$2.000", "$75,264", "-$3.50",
    )  # fmt: skip
    assert (percent(0.9143), percent(0.0625, 1), usd(None), percent(None)) == (
        "91 %", "6.2 %", "—", "—",
    )  # fmt: skip


def test_a_costs_window_edge_is_a_date_or_a_time() -> None:
    assert parse_edge("", "since") is None
    assert parse_edge("2026-01-05", "since") == datetime(2026, 1, 5, tzinfo=UTC)
    assert parse_edge("2026-01-05", "until", end=True) == datetime(2026, 1, 6, tzinfo=UTC)
    assert parse_edge("2026-01-05T09:30", "until", end=True) == T0 + timedelta(minutes=30)
    assert parse_edge("2026-01-05T10:00+01:00", "since") == T0
    with pytest.raises(BadInputError, match="until: 'soon' is not a date"):
        parse_edge("soon", "until")


@pytest.mark.parametrize(
    ("total_s", "text"),
    [(-3, "0 s"), (42.9, "42 s"), (185, "3 min 5 s"), (7440, "2 h 4 min"), (266_400, "3 d 2 h")],
)
def test_durations_read_as_people_say_them(total_s: float, text: str) -> None:
    assert seconds(total_s) == text


def test_missing_values_show_a_dash() -> None:
    assert (utc(None), between(None, T0), number(None)) == ("—", "—", "—")
    assert utc(T0) == "2026-01-05 09:00:00 UTC"
    assert number(61.26, 1, " °C") == "61.3 °C"


@pytest.mark.parametrize(
    ("target", "goes_to"),
    [
        ("/jobs?state=running", "/jobs?state=running"),
        ("/jobs/3", "/jobs/3"),
        ("", "/"),
        ("jobs", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/login?next=/x", "/"),
        ("/jobs\r\nSet-Cookie: x=y", "/"),
    ],
)
def test_after_login_only_local_pages(target: str, goes_to: str) -> None:
    assert safe_next(target) == goes_to
