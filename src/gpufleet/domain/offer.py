"""``Offer``: something that can be bought — a unit of GPU capacity from one supplier.

A unit is an instance, a server or a contract block holding ``gpus_per_unit`` GPUs (fractional
for GPU slices such as AWS g6f). Prices are per unit per hour; per-GPU figures are derived, never
stored, so they cannot disagree with the unit price.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

HOURS_PER_MONTH = 730.0
"""Average hours in a month (8,760 / 12), the convention cloud providers bill reservations by."""


class ContractKind(enum.StrEnum):
    """How capacity is bought."""

    ON_DEMAND = "on_demand"
    """Hourly, no commitment."""
    SPOT = "spot"
    """Preemptible, cheaper, sometimes unavailable."""
    RESERVED = "reserved"
    """Committed for ``term_months`` at an hourly rate, possibly with an upfront payment."""
    OWNED = "owned"
    """Bought hardware: ``upfront_usd`` capex amortised over ``term_months``, plus hourly opex."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Offer:
    """One purchasable unit of GPU capacity.

    ``price_usd_per_hour`` is the contract's own hourly price per unit: the on-demand rate for
    ``on_demand``, the committed rate for ``reserved``, power and colocation for ``owned``, and
    ``None`` for spot-only offers. ``spot_price_usd_per_hour`` is the spot rate when the supplier
    also sells the unit as spot. ``source`` says where the offer comes from: ``file:line`` by
    default, or the page a supplier file names for it.
    """

    supplier: str
    instance_type: str
    gpu: str
    """Canonical GPU model id (see ``gpufleet.catalog.gpus``)."""
    gpus_per_unit: float
    contract: ContractKind
    price_usd_per_hour: float | None
    spot_price_usd_per_hour: float | None = None
    region: str | None = None
    zone: str | None = None
    vcpus: float | None = None
    memory_gib: float | None = None
    term_months: float | None = None
    lead_time_days: float = 0.0
    min_units: int = 1
    capacity_units: int | None = None
    upfront_usd: float = 0.0
    source: str = ""

    def __post_init__(self) -> None:  # noqa: PLR0912 - a flat list of invariants
        problems: list[str] = []
        if not self.supplier:
            problems.append("supplier is empty")
        if not self.gpu:
            problems.append("gpu is empty")
        if not self.gpus_per_unit > 0:
            problems.append(f"gpus_per_unit must be > 0, got {self.gpus_per_unit}")
        for name in ("price_usd_per_hour", "spot_price_usd_per_hour"):
            value = getattr(self, name)
            if value is not None and value < 0:
                problems.append(f"{name} must be >= 0, got {value}")
        if self.contract is ContractKind.SPOT:
            if self.spot_price_usd_per_hour is None:
                problems.append("a spot offer needs spot_price_usd_per_hour")
        elif self.price_usd_per_hour is None:
            problems.append(f"a {self.contract.value} offer needs price_usd_per_hour")
        if self.contract in (ContractKind.RESERVED, ContractKind.OWNED):
            if self.term_months is None or self.term_months <= 0:
                problems.append(f"a {self.contract.value} offer needs term_months > 0")
        elif self.term_months is not None:
            problems.append(
                f"term_months is only for reserved or owned offers, not {self.contract}"
            )
        if self.lead_time_days < 0:
            problems.append(f"lead_time_days must be >= 0, got {self.lead_time_days}")
        if self.min_units < 1:
            problems.append(f"min_units must be >= 1, got {self.min_units}")
        if self.capacity_units is not None and self.capacity_units < self.min_units:
            problems.append(
                f"capacity_units ({self.capacity_units}) is below min_units ({self.min_units})"
            )
        if self.upfront_usd < 0:
            problems.append(f"upfront_usd must be >= 0, got {self.upfront_usd}")
        elif self.upfront_usd and self.contract not in (ContractKind.RESERVED, ContractKind.OWNED):
            problems.append(
                f"upfront_usd is only for reserved or owned offers, not {self.contract}"
            )
        for name in ("vcpus", "memory_gib"):
            value = getattr(self, name)
            if value is not None and value < 0:
                problems.append(f"{name} must be >= 0, got {value}")
        if problems:
            raise ValueError("; ".join(problems))

    def hourly_usd(self, *, spot: bool = False) -> float | None:
        """All-in hourly cost of one unit: the spot rate, or the contract rate plus upfront/term.

        Upfront payments (reservation fees, capex of owned hardware) are spread evenly over the
        term, so offers of every contract kind compare on one axis.
        """
        if spot:
            return self.spot_price_usd_per_hour
        if self.price_usd_per_hour is None:
            return None
        amortised = 0.0
        if self.upfront_usd and self.term_months:
            amortised = self.upfront_usd / (self.term_months * HOURS_PER_MONTH)
        return self.price_usd_per_hour + amortised

    def hourly_usd_per_gpu(self, *, spot: bool = False) -> float | None:
        """``hourly_usd`` divided by the GPUs in one unit."""
        unit = self.hourly_usd(spot=spot)
        return None if unit is None else unit / self.gpus_per_unit

    @property
    def capacity_gpus(self) -> float | None:
        """Most GPUs that can be bought under this offer, when the supplier states it."""
        return None if self.capacity_units is None else self.capacity_units * self.gpus_per_unit

    @property
    def min_gpus(self) -> float:
        """Smallest order, in GPUs."""
        return self.min_units * self.gpus_per_unit
