"""The dashboard's pure parts: the in-memory utilisation history, the SVG line's geometry, and
the formats pages use for times and figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gpufleet.server.dashboard.charts import utilisation_chart
from gpufleet.server.dashboard.history import Sample, UtilisationHistory
from gpufleet.server.dashboard.render import between, number, seconds, utc
from gpufleet.server.dashboard.session import safe_next

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
