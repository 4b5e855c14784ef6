"""Supplier scorecards and the reliability the planner uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpufleet.domain.scorecard import (
    MIN_RELIABILITY,
    PRIOR_GPUS,
    OrderRecord,
    SupplierRecord,
    score,
)

NOW = datetime(2027, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def test_on_time_late_and_overdue_orders() -> None:
    orders = (
        OrderRecord(promised_at=NOW - 10 * DAY, delivered_at=NOW - 11 * DAY),  # early
        OrderRecord(promised_at=NOW - 10 * DAY, delivered_at=NOW - 8 * DAY),  # late
        OrderRecord(promised_at=NOW - DAY, delivered_at=None),  # overdue
        OrderRecord(promised_at=NOW + DAY, delivered_at=None),  # not due yet
        OrderRecord(promised_at=None, delivered_at=None),  # never submitted
    )
    card = score(SupplierRecord(supplier="acme", orders=orders), NOW)
    assert (card.orders, card.on_time, card.late) == (5, 1, 2)
    assert card.on_time_rate == pytest.approx(1 / 3)


def test_failures_lower_reliability_through_the_prior() -> None:
    clean = score(SupplierRecord(supplier="a", gpus_tested=16), NOW)
    one_bad = score(SupplierRecord(supplier="b", gpus_tested=16, gpus_failed=1), NOW)
    assert clean.reliability == 1.0
    assert one_bad.reliability == pytest.approx((15 + PRIOR_GPUS) / (16 + PRIOR_GPUS))
    assert one_bad.acceptance_failure_rate == pytest.approx(1 / 16)


def test_mtbf_downtime_and_effective_cost() -> None:
    card = score(
        SupplierRecord(
            supplier="a", node_hours=1000.0, node_down_hours=100.0, node_failures=4,
            paid_usd=2000.0, paid_gpu_hours=1000.0, useful_gpu_hours=800.0,
        ),
        NOW,
    )  # fmt: skip
    assert card.mtbf_hours == 250.0
    assert card.list_usd_per_gpu_hour == 2.0
    assert card.effective_usd_per_useful_gpu_hour == 2.5
    assert card.reliability == pytest.approx((900 + 24) / (1000 + 24))
    empty = score(SupplierRecord(supplier="new"), NOW)
    assert (empty.mtbf_hours, empty.on_time_rate, empty.effective_usd_per_useful_gpu_hour) == (
        None, None, None,
    )  # fmt: skip


@given(
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=10_000),
    st.floats(min_value=0, max_value=1e6),
    st.floats(min_value=0, max_value=1.0),
)
def test_reliability_is_a_share_and_falls_with_failures(
    tested: int, failed: int, hours: float, down_share: float
) -> None:
    failed = min(failed, tested)
    record = SupplierRecord(
        supplier="a", gpus_tested=tested, gpus_failed=failed, node_hours=hours,
        node_down_hours=hours * down_share,
    )  # fmt: skip
    card = score(record, NOW)
    assert MIN_RELIABILITY <= card.reliability <= 1.0
    if tested > failed:
        worse = score(SupplierRecord(supplier="a", gpus_tested=tested, gpus_failed=failed + 1), NOW)
        better = score(SupplierRecord(supplier="a", gpus_tested=tested, gpus_failed=failed), NOW)
        assert worse.reliability < better.reliability or worse.reliability == MIN_RELIABILITY
