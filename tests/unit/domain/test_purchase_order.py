"""The purchase-order state machine and order lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpufleet.domain.purchase_order import (
    ALLOWED,
    ORDER,
    OrderLine,
    PoState,
    PoTransitionError,
    path_to,
    transition,
)


def test_the_forward_path_and_its_ends() -> None:
    assert path_to(PoState.SUBMITTED, PoState.DELIVERED) == (
        PoState.CONFIRMED,
        PoState.DELIVERING,
        PoState.DELIVERED,
    )
    assert path_to(PoState.DELIVERED, PoState.DELIVERED) == ()
    assert path_to(PoState.DELIVERED, PoState.ACCEPTED) == (PoState.ACCEPTED,)
    with pytest.raises(
        PoTransitionError, match="a delivered purchase order cannot become confirmed"
    ):
        path_to(PoState.DELIVERED, PoState.CONFIRMED)


def test_final_states_allow_nothing_and_a_delivered_order_cannot_be_cancelled() -> None:
    for state in (PoState.ACCEPTED, PoState.REJECTED, PoState.CANCELLED):
        assert state.final
        assert not ALLOWED[state]
    with pytest.raises(PoTransitionError, match=r"allowed: accepted, rejected"):
        transition(PoState.DELIVERED, PoState.CANCELLED)
    assert [s for s in PoState if s.open] == [
        PoState.SUBMITTED,
        PoState.CONFIRMED,
        PoState.DELIVERING,
    ]


@given(st.sampled_from(list(PoState)), st.sampled_from(list(PoState)))
def test_transition_agrees_with_the_table(current: PoState, target: PoState) -> None:
    if target in ALLOWED[current]:
        assert transition(current, target) is target
    else:
        with pytest.raises(PoTransitionError):
            transition(current, target)


@given(st.sampled_from(ORDER), st.sampled_from(ORDER))
def test_every_step_of_a_forward_path_is_allowed(current: PoState, target: PoState) -> None:
    if ORDER.index(target) < ORDER.index(current):
        with pytest.raises(PoTransitionError):
            path_to(current, target)
        return
    here = current
    for step in path_to(current, target):
        assert step in ALLOWED[here]
        here = step
    assert here is target


def test_an_order_line_checks_itself_and_promises_delivery_after_its_lead_time() -> None:
    line = OrderLine(
        supplier="acme", gpu="H100-SXM", units=2, gpus_per_unit=8, contract="reserved",
        price_usd_per_unit_hour=16.0, lead_time_days=10,
    )  # fmt: skip
    assert line.gpus == 16
    at = datetime(2027, 1, 4, tzinfo=UTC)
    assert line.promised_at(at) == at + timedelta(days=10)
    with pytest.raises(ValueError, match="units must be at least 1, got 0"):
        OrderLine(supplier="a", gpu="g", units=0, gpus_per_unit=8, contract="on_demand",
                  price_usd_per_unit_hour=1.0)  # fmt: skip
    with pytest.raises(ValueError, match="needs term_months"):
        OrderLine(supplier="a", gpu="g", units=1, gpus_per_unit=8, contract="owned",
                  price_usd_per_unit_hour=1.0, upfront_usd_per_unit=1e5)  # fmt: skip
