"""Accounting: what each GPU-hour cost, who used it, and what was paid for but not used.

Pure arithmetic over intervals; the server loads the intervals from the database.

* **Price of a GPU-hour** (``gpu_hour_usd``): the contract's hourly price of one unit plus its
  upfront payment spread evenly over the term (``term_months x 730 h``) — for owned hardware
  the capex amortised over its life plus hourly opex — divided by the unit's GPUs.
* **Usage** (``Usage``): one allocation — a job holding ``gpus`` GPUs of one node from
  ``start`` to ``end`` — costs ``gpus x hours x price``. The price is the one of the contract
  the GPUs came from, fixed when the allocation opened, so a later price change never rewrites
  history. Unpriced GPUs (a machine added by hand with no contract) cost 0 and are counted.
* **Days** are UTC calendar days; an interval crossing midnight is split at it
  (``split_by_day``), so per-day figures add up to the whole.
* **Paid capacity** (``Paid``): a node's GPUs are paid from the time the node joined the fleet
  to the time it left (or now), whether used or not — including GPUs that failed acceptance.
  **Idle** GPU-hours are paid GPU-hours minus allocated ones, per supplier and GPU model.
* **Budgets**: a project's budget is per calendar month (UTC); ``crossed_thresholds`` says
  which alert levels (80% and 100% by default) the month's spend has reached.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from gpufleet.domain.offer import HOURS_PER_MONTH

BUDGET_THRESHOLDS = (0.8, 1.0)
"""Alert when a project's month spend reaches 80% and 100% of its monthly budget."""


def gpu_hour_usd(
    price_usd_per_unit_hour: float,
    gpus_per_unit: float,
    *,
    upfront_usd_per_unit: float = 0.0,
    term_months: float | None = None,
) -> float:
    """The all-in price of one GPU-hour under a contract (see the module docstring)."""
    if gpus_per_unit <= 0:
        msg = f"gpus_per_unit must be > 0, got {gpus_per_unit}"
        raise ValueError(msg)
    amortised = 0.0
    if upfront_usd_per_unit:
        if not term_months or term_months <= 0:
            msg = "an upfront payment needs term_months > 0 to amortise it over"
            raise ValueError(msg)
        amortised = upfront_usd_per_unit / (term_months * HOURS_PER_MONTH)
    return (price_usd_per_unit_hour + amortised) / gpus_per_unit


def split_by_day(start: datetime, end: datetime) -> dict[date, float]:
    """Seconds of ``[start, end)`` in each UTC calendar day (empty when ``end <= start``)."""
    out: dict[date, float] = {}
    at = start
    while at < end:
        midnight = datetime.combine(at.date() + timedelta(days=1), datetime.min.time(), at.tzinfo)
        stop = min(end, midnight)
        out[at.date()] = out.get(at.date(), 0.0) + (stop - at).total_seconds()
        at = stop
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """One allocation: ``gpus`` GPUs of one node held by one job over ``[start, end)``."""

    project: str
    job: int
    node: str
    supplier: str | None
    contract: str | None
    gpu: str
    gpus: int
    start: datetime
    end: datetime
    price_usd_per_gpu_hour: float | None
    """``None``: the GPUs came with no contract price (counted, cost 0)."""

    @property
    def gpu_seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds()) * self.gpus

    @property
    def cost_usd(self) -> float:
        return self.gpu_seconds / 3600 * (self.price_usd_per_gpu_hour or 0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class CostRow:
    """GPU-hours and dollars of one (day, project, supplier, contract, GPU model)."""

    day: date
    project: str
    supplier: str | None
    contract: str | None
    gpu: str
    gpu_hours: float
    cost_usd: float
    unpriced_gpu_hours: float = 0.0


def cost_rows(usages: Iterable[Usage]) -> list[CostRow]:
    """Usage split by UTC day and grouped, sorted by day, project, supplier, contract, GPU."""
    hours: dict[tuple[date, str, str | None, str | None, str], list[float]] = defaultdict(
        lambda: [0.0, 0.0, 0.0]
    )
    for usage in usages:
        for day, seconds in split_by_day(usage.start, usage.end).items():
            gpu_hours = seconds * usage.gpus / 3600
            cell = hours[(day, usage.project, usage.supplier, usage.contract, usage.gpu)]
            cell[0] += gpu_hours
            cell[1] += gpu_hours * (usage.price_usd_per_gpu_hour or 0.0)
            if usage.price_usd_per_gpu_hour is None:
                cell[2] += gpu_hours
    return [
        CostRow(
            day=day,
            project=project,
            supplier=supplier,
            contract=contract,
            gpu=gpu,
            gpu_hours=values[0],
            cost_usd=values[1],
            unpriced_gpu_hours=values[2],
        )
        for (day, project, supplier, contract, gpu), values in sorted(
            hours.items(), key=lambda item: tuple(str(k) for k in item[0])
        )
    ]


@dataclass(frozen=True, slots=True, kw_only=True)
class Paid:
    """A node's GPUs of one model, paid for over ``[start, end)``."""

    node: str
    supplier: str | None
    gpu: str
    gpus: int
    start: datetime
    end: datetime
    price_usd_per_gpu_hour: float | None

    @property
    def gpu_hours(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds()) * self.gpus / 3600


@dataclass(frozen=True, slots=True, kw_only=True)
class IdleRow:
    """Paid, allocated and idle GPU-hours (and dollars) of one supplier's GPU model."""

    supplier: str | None
    gpu: str
    paid_gpu_hours: float
    allocated_gpu_hours: float
    paid_usd: float
    allocated_usd: float

    @property
    def idle_gpu_hours(self) -> float:
        return max(0.0, self.paid_gpu_hours - self.allocated_gpu_hours)

    @property
    def idle_usd(self) -> float:
        return max(0.0, self.paid_usd - self.allocated_usd)

    @property
    def utilisation(self) -> float | None:
        """Allocated over paid GPU-hours; ``None`` when nothing was paid."""
        if self.paid_gpu_hours <= 0:
            return None
        return min(1.0, self.allocated_gpu_hours / self.paid_gpu_hours)


def idle_rows(paid: Iterable[Paid], usages: Iterable[Usage]) -> list[IdleRow]:
    """Per (supplier, GPU model): paid vs allocated GPU-hours and dollars. Usage on nodes with
    no ``Paid`` record (unpriced machines) is left out: nothing was paid for it."""
    cells: dict[tuple[str | None, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    paid_nodes = set()
    for item in paid:
        paid_nodes.add((item.node, item.gpu))
        cell = cells[(item.supplier, item.gpu)]
        cell[0] += item.gpu_hours
        cell[2] += item.gpu_hours * (item.price_usd_per_gpu_hour or 0.0)
    for usage in usages:
        if (usage.node, usage.gpu) not in paid_nodes:
            continue
        cell = cells[(usage.supplier, usage.gpu)]
        cell[1] += usage.gpu_seconds / 3600
        cell[3] += usage.cost_usd
    return [
        IdleRow(
            supplier=supplier,
            gpu=gpu,
            paid_gpu_hours=v[0],
            allocated_gpu_hours=v[1],
            paid_usd=v[2],
            allocated_usd=v[3],
        )
        for (supplier, gpu), v in sorted(
            cells.items(), key=lambda item: (str(item[0][0]), item[0][1])
        )
    ]


def month_of(day: date) -> str:
    """``YYYY-MM``: the budget period a day belongs to."""
    return f"{day.year:04d}-{day.month:02d}"


def spend_by_month(rows: Iterable[CostRow]) -> dict[tuple[str, str], float]:
    """Dollars per (project, ``YYYY-MM``)."""
    out: dict[tuple[str, str], float] = defaultdict(float)
    for row in rows:
        out[(row.project, month_of(row.day))] += row.cost_usd
    return dict(out)


def crossed_thresholds(
    spent_usd: float, budget_usd: float | None, thresholds: Iterable[float] = BUDGET_THRESHOLDS
) -> tuple[float, ...]:
    """The alert levels the spend has reached (none without a budget; a zero budget is reached
    by any spend)."""
    if budget_usd is None:
        return ()
    if budget_usd <= 0:
        return tuple(thresholds) if spent_usd > 0 else ()
    return tuple(t for t in thresholds if spent_usd >= t * budget_usd)


def totals_by(rows: Iterable[CostRow], key: str) -> Mapping[str, tuple[float, float]]:
    """(GPU-hours, dollars) summed per value of ``key`` (``project``, ``supplier``, ``gpu``,
    ``contract``); ``None`` keys read ``-``."""
    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in rows:
        name = getattr(row, key)
        cell = out["-" if name is None else str(name)]
        cell[0] += row.gpu_hours
        cell[1] += row.cost_usd
    return {name: (v[0], v[1]) for name, v in sorted(out.items())}
