"""Purchase orders and their state machine: how bought capacity becomes fleet capacity.

::

    draft ──► submitted ──► confirmed ──► delivering ──► delivered ──► accepted
      │           │             │              │                  └──► rejected
      └───────────┴─────────────┴──────────────┴──► cancelled

``draft``: written (by hand, or from an accepted plan) but not sent. ``submitted``: sent to the
supplier; the promised delivery date is fixed from the offer's lead time. ``confirmed``: the
supplier committed. ``delivering``: hardware on its way, or nodes being provisioned.
``delivered``: every node is in the fleet, quarantined until its acceptance test is judged.
``accepted``: acceptance finished and at least one GPU passed (failed GPUs stay out of the fleet
and count against the supplier); ``rejected``: no GPU passed. A delivered order can no longer be
cancelled: the hardware is ours to judge. ``accepted``, ``rejected`` and ``cancelled`` are final.
Every change goes through ``transition``; the API enforces the machine through it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class PoState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in FINAL

    @property
    def open(self) -> bool:
        """Sent to the supplier and not yet delivered: the supplier adapter follows it."""
        return self in (PoState.SUBMITTED, PoState.CONFIRMED, PoState.DELIVERING)


FINAL = frozenset({PoState.ACCEPTED, PoState.REJECTED, PoState.CANCELLED})

ALLOWED: dict[PoState, frozenset[PoState]] = {
    PoState.DRAFT: frozenset({PoState.SUBMITTED, PoState.CANCELLED}),
    PoState.SUBMITTED: frozenset({PoState.CONFIRMED, PoState.CANCELLED}),
    PoState.CONFIRMED: frozenset({PoState.DELIVERING, PoState.CANCELLED}),
    PoState.DELIVERING: frozenset({PoState.DELIVERED, PoState.CANCELLED}),
    PoState.DELIVERED: frozenset({PoState.ACCEPTED, PoState.REJECTED}),
    PoState.ACCEPTED: frozenset(),
    PoState.REJECTED: frozenset(),
    PoState.CANCELLED: frozenset(),
}

ORDER = (
    PoState.DRAFT,
    PoState.SUBMITTED,
    PoState.CONFIRMED,
    PoState.DELIVERING,
    PoState.DELIVERED,
)
"""The forward path up to delivery; ``path_to`` walks it."""


class PoTransitionError(ValueError):
    """A state change the purchase-order state machine does not allow."""

    def __init__(self, current: PoState, target: PoState) -> None:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[current])) or "none (final)"
        super().__init__(
            f"a {current.value} purchase order cannot become {target.value} (allowed: {allowed})"
        )
        self.current = current
        self.target = target


def transition(current: PoState, target: PoState) -> PoState:
    """``target`` if the machine allows ``current -> target``, else ``PoTransitionError``."""
    if target not in ALLOWED[current]:
        raise PoTransitionError(current, target)
    return target


def path_to(current: PoState, target: PoState) -> tuple[PoState, ...]:
    """The forward steps from ``current`` to ``target`` along draft -> ... -> delivered (a
    supplier that reports "delivered" skips no recorded step); empty when already there or
    past it. ``PoTransitionError`` when ``target`` is not on the forward path from here."""
    if current == target:
        return ()
    if current not in ORDER or target not in ORDER:
        transition(current, target)  # raises unless it is a single allowed step
        return (target,)
    here, there = ORDER.index(current), ORDER.index(target)
    if there < here:
        raise PoTransitionError(current, target)
    return ORDER[here + 1 : there + 1]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderLine:
    """What is bought: ``units`` of ``gpus_per_unit`` GPUs of ``gpu`` under one contract."""

    supplier: str
    gpu: str
    units: int
    gpus_per_unit: int
    contract: str
    price_usd_per_unit_hour: float
    """The contract's hourly price of one unit (for owned hardware: power and hosting)."""
    upfront_usd_per_unit: float = 0.0
    term_months: float | None = None
    lead_time_days: float = 0.0

    def __post_init__(self) -> None:
        problems = []
        if self.units < 1:
            problems.append(f"units must be at least 1, got {self.units}")
        if self.gpus_per_unit < 1:
            problems.append(f"gpus_per_unit must be at least 1, got {self.gpus_per_unit}")
        if self.price_usd_per_unit_hour < 0 or self.upfront_usd_per_unit < 0:
            problems.append("prices must be >= 0")
        if self.lead_time_days < 0:
            problems.append(f"lead_time_days must be >= 0, got {self.lead_time_days}")
        if self.upfront_usd_per_unit and not self.term_months:
            problems.append("an upfront payment needs term_months to amortise it over")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def gpus(self) -> int:
        return self.units * self.gpus_per_unit

    def promised_at(self, submitted_at: datetime) -> datetime:
        """When the supplier owes delivery: submission plus the lead time."""
        return submitted_at + timedelta(days=self.lead_time_days)
