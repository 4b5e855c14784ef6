"""Accounting arithmetic: the price of a GPU-hour, usage split by day, idle cost, budgets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpufleet.domain.accounting import (
    Paid,
    Usage,
    cost_rows,
    crossed_thresholds,
    gpu_hour_usd,
    idle_rows,
    spend_by_month,
    split_by_day,
    totals_by,
)

T0 = datetime(2027, 1, 4, 22, 0, tzinfo=UTC)


def usage(**fields: object) -> Usage:
    base: dict[str, object] = {
        "project": "vision", "job": 1, "node": "n1", "supplier": "acme", "contract": "reserved",
        "gpu": "H100-SXM", "gpus": 8, "start": T0, "end": T0 + timedelta(hours=4),
        "price_usd_per_gpu_hour": 2.0,
    }  # fmt: skip
    base.update(fields)
    return Usage(**base)  # type: ignore[arg-type]


def test_owned_hardware_is_amortised_over_its_life() -> None:
    # $250,000 over 48 months (35,040 h) plus $6/h opex, for 8 GPUs.
    per_gpu = gpu_hour_usd(6.0, 8, upfront_usd_per_unit=250_000, term_months=48)
    assert per_gpu == pytest.approx((6.0 + 250_000 / 35_040) / 8)
    assert gpu_hour_usd(16.0, 8) == 2.0
    with pytest.raises(ValueError, match="term_months"):
        gpu_hour_usd(1.0, 8, upfront_usd_per_unit=10.0)


def test_an_interval_across_midnight_is_split_at_it() -> None:
    days = split_by_day(T0, T0 + timedelta(hours=4))
    assert days == {date(2027, 1, 4): 2 * 3600.0, date(2027, 1, 5): 2 * 3600.0}
    assert split_by_day(T0, T0) == {}


def test_cost_rows_by_day_and_totals() -> None:
    rows = cost_rows(
        [usage(), usage(project="nlp", gpus=2, price_usd_per_gpu_hour=None, supplier=None)]
    )
    assert [(r.day.day, r.project, r.gpu_hours, r.cost_usd) for r in rows] == [
        (4, "nlp", 4.0, 0.0),
        (4, "vision", 16.0, 32.0),
        (5, "nlp", 4.0, 0.0),
        (5, "vision", 16.0, 32.0),
    ]
    assert sum(r.unpriced_gpu_hours for r in rows) == 8.0
    assert totals_by(rows, "project") == {"nlp": (8.0, 0.0), "vision": (32.0, 64.0)}
    assert totals_by(rows, "supplier") == {"-": (8.0, 0.0), "acme": (32.0, 64.0)}
    assert spend_by_month(rows) == {("nlp", "2027-01"): 0.0, ("vision", "2027-01"): 64.0}


def test_idle_is_paid_minus_allocated_and_unpaid_usage_is_left_out() -> None:
    paid = [
        Paid(node="n1", supplier="acme", gpu="H100-SXM", gpus=8, start=T0,
             end=T0 + timedelta(hours=10), price_usd_per_gpu_hour=2.0),
    ]  # fmt: skip
    (row,) = idle_rows(paid, [usage(), usage(node="laptop", supplier=None)])
    assert (row.paid_gpu_hours, row.allocated_gpu_hours, row.idle_gpu_hours) == (80.0, 32.0, 48.0)
    assert (row.paid_usd, row.idle_usd, row.utilisation) == (160.0, 96.0, 0.4)


def test_budget_thresholds() -> None:
    assert crossed_thresholds(79.0, 100.0) == ()
    assert crossed_thresholds(80.0, 100.0) == (0.8,)
    assert crossed_thresholds(120.0, 100.0) == (0.8, 1.0)
    assert crossed_thresholds(1e9, None) == ()
    assert crossed_thresholds(0.01, 0.0) == (0.8, 1.0)


@given(
    st.integers(min_value=0, max_value=10 * 86400),
    st.integers(min_value=0, max_value=10 * 86400),
    st.integers(min_value=1, max_value=8),
)
def test_days_add_up_to_the_whole(offset_s: int, length_s: int, gpus: int) -> None:
    start = T0 + timedelta(seconds=offset_s)
    item = usage(start=start, end=start + timedelta(seconds=length_s), gpus=gpus)
    rows = cost_rows([item])
    assert sum(r.gpu_hours for r in rows) == pytest.approx(item.gpu_seconds / 3600)
    assert sum(r.cost_usd for r in rows) == pytest.approx(item.cost_usd)
