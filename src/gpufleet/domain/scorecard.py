"""Supplier scorecards: did each supplier deliver on time, were its GPUs good, did they stay up,
and what did a useful GPU-hour really cost — and the reliability the planner derates it by.

Measures, per supplier (``score``):

* **On-time delivery rate**: orders delivered by their promised date (submission + lead time)
  over orders that were delivered or are already overdue. ``None`` with no such order.
* **Acceptance failure rate**: GPUs that failed their acceptance test over GPUs tested.
* **Node failures and MTBF**: node-loss events of the supplier's accepted nodes;
  MTBF = node-hours in the fleet / failures (``None`` with no failure yet: at least the
  node-hours).
* **Effective cost per useful GPU-hour**: everything paid to the supplier (failed GPUs and
  downtime included) over the GPU-hours of accepted GPUs while their node was up. Beside it the
  list price per GPU-hour, so the premium that unreliability costs is visible.

**Reliability** (what ``planning`` multiplies delivered capacity by) is the expected share of
ordered GPU-hours that turn out useful: (acceptance pass rate) x (uptime share), each estimated
with a prior worth ``PRIOR_GPUS`` GPUs (``PRIOR_HOURS`` node-hours) of flawless service, so one
bad GPU in a first small order lowers it, but does not condemn the supplier:
``pass = (passed + PRIOR_GPUS) / (tested + PRIOR_GPUS)``, ``uptime = (up_h + PRIOR_HOURS) /
(in_fleet_h + PRIOR_HOURS)``. Clamped to [``MIN_RELIABILITY``, 1].
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

PRIOR_GPUS = 8.0
"""Pseudo-GPUs of passed acceptance tests every supplier starts with (one 8-GPU server)."""
PRIOR_HOURS = 24.0
"""Pseudo node-hours of uptime every supplier starts with."""
MIN_RELIABILITY = 0.05


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRecord:
    """One order as delivered (or not yet)."""

    promised_at: datetime | None
    """Submission + lead time; ``None`` for an order never submitted."""
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierRecord:
    """What the fleet measured of one supplier."""

    supplier: str
    orders: tuple[OrderRecord, ...] = ()
    gpus_tested: int = 0
    gpus_failed: int = 0
    node_hours: float = 0.0
    """Hours the supplier's accepted nodes spent in the fleet (up or lost)."""
    node_down_hours: float = 0.0
    """Of those, hours their node was lost."""
    node_failures: int = 0
    paid_usd: float = 0.0
    paid_gpu_hours: float = 0.0
    useful_gpu_hours: float = 0.0
    """GPU-hours of accepted GPUs while their node was up."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Scorecard:
    supplier: str
    orders: int
    on_time: int
    late: int
    on_time_rate: float | None
    gpus_tested: int
    gpus_failed: int
    acceptance_failure_rate: float | None
    node_failures: int
    mtbf_hours: float | None
    node_hours: float
    paid_usd: float
    list_usd_per_gpu_hour: float | None
    effective_usd_per_useful_gpu_hour: float | None
    reliability: float


def is_late(promised_at: datetime | None, delivered_at: datetime | None, now: datetime) -> bool:
    """Delivered after the promised date, or still undelivered past it at ``now``."""
    return promised_at is not None and (delivered_at or now) > promised_at


def score(record: SupplierRecord, now: datetime) -> Scorecard:
    """The scorecard of one supplier at ``now`` (overdue open orders count as late)."""
    on_time = late = 0
    for order in record.orders:
        if order.promised_at is None:
            continue
        if is_late(order.promised_at, order.delivered_at, now):
            late += 1
        elif order.delivered_at is not None:
            on_time += 1
    judged = on_time + late
    passed = record.gpus_tested - record.gpus_failed
    pass_rate = (passed + PRIOR_GPUS) / (record.gpus_tested + PRIOR_GPUS)
    up_hours = max(0.0, record.node_hours - record.node_down_hours)
    uptime = (up_hours + PRIOR_HOURS) / (record.node_hours + PRIOR_HOURS)
    reliability = min(1.0, max(MIN_RELIABILITY, pass_rate * uptime))
    return Scorecard(
        supplier=record.supplier,
        orders=len(record.orders),
        on_time=on_time,
        late=late,
        on_time_rate=on_time / judged if judged else None,
        gpus_tested=record.gpus_tested,
        gpus_failed=record.gpus_failed,
        acceptance_failure_rate=(
            record.gpus_failed / record.gpus_tested if record.gpus_tested else None
        ),
        node_failures=record.node_failures,
        mtbf_hours=record.node_hours / record.node_failures if record.node_failures else None,
        node_hours=record.node_hours,
        paid_usd=record.paid_usd,
        list_usd_per_gpu_hour=(
            record.paid_usd / record.paid_gpu_hours if record.paid_gpu_hours > 0 else None
        ),
        effective_usd_per_useful_gpu_hour=(
            record.paid_usd / record.useful_gpu_hours if record.useful_gpu_hours > 0 else None
        ),
        reliability=reliability,
    )


def reliability_by_supplier(cards: Iterable[Scorecard]) -> dict[str, float]:
    """What the planner derates each supplier's deliveries by."""
    return {card.supplier: card.reliability for card in cards}
