"""Turn catalog offers and supplier contracts into planning options.

* **Efficiency** (H100-equivalents per GPU): the model's dense BF16 (else FP16) tensor TFLOPS
  over the reference model's (``H100-SXM`` by default), or a value the user gives per model.
  Offers for models with neither are left out and reported.
* **Periods**: terms and lead times are rounded *up* to whole periods
  (``term_months * 730 h``; ``lead_time_days * 24 h``) — a plan never counts on capacity early.
* An on-demand offer with a spot price becomes two options, on-demand and spot (spot with the
  given ``spot_availability``: one fraction, or a function of the offer giving (availability,
  share of paid hours not lost to preemptions), estimated from the spot traces, ``spot.py``; the
  second factor scales the spot option's efficiency); a spot-only offer becomes a spot option.
* To keep the model small, only the cheapest offer per (supplier, GPU model, GPUs per unit,
  contract kind) is kept, ranked by price per H100-equivalent hour (upfront spread over the term).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from gpufleet.catalog.gpus import GpuTable
from gpufleet.domain.offer import HOURS_PER_MONTH, ContractKind, Offer
from gpufleet.planning.problem import CapacityOption


@dataclass(frozen=True, slots=True)
class BuiltOptions:
    options: tuple[CapacityOption, ...]
    skipped: dict[str, int] = field(default_factory=dict)
    """Offers left out, by reason (e.g. ``no throughput figure for A10G``)."""


def efficiency_of(
    gpu: str, table: GpuTable, reference: str, overrides: Mapping[str, float]
) -> float | None:
    if gpu in overrides:
        return overrides[gpu]
    model, ref = table.get(gpu).dense_tflops, table.get(reference).dense_tflops
    return None if model is None or ref is None else model / ref


def _periods(hours: float, period_hours: float, *, minimum: int) -> int:
    return max(minimum, math.ceil(hours / period_hours - 1e-9))


def options_from_offers(
    offers: Iterable[Offer],
    table: GpuTable,
    *,
    period_hours: float,
    reference: str = "H100-SXM",
    efficiency: Mapping[str, float] | None = None,
    spot_availability: float | Callable[[Offer], tuple[float, float]] = 0.8,
    reliability: Mapping[str, float] | None = None,
) -> BuiltOptions:
    """``reliability``: the share of each supplier's ordered capacity expected to turn out
    useful (its scorecard's), 1 for suppliers not named."""
    overrides = dict(efficiency or {})
    measured = dict(reliability or {})
    best: dict[tuple[str, str, float, ContractKind], tuple[float, CapacityOption]] = {}
    skipped: dict[str, int] = {}
    for offer in offers:
        eff = efficiency_of(offer.gpu, table, reference, overrides)
        if eff is None:
            reason = f"no throughput figure for {offer.gpu}"
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        spot = spot_availability(offer) if callable(spot_availability) else (spot_availability, 1.0)
        kept = measured.get(offer.supplier, 1.0)
        for option in _as_options(offer, eff, period_hours, spot, kept):
            score = option.usd_per_h100_hour(period_hours)
            key = (offer.supplier, offer.gpu, offer.gpus_per_unit, option.contract)
            if key not in best or score < best[key][0]:
                best[key] = (score, option)
    ranked = sorted(best.values(), key=lambda item: (item[0], item[1].name))
    return BuiltOptions(tuple(option for _, option in ranked), skipped)


def _as_options(
    offer: Offer, eff: float, period_hours: float, spot: tuple[float, float], reliability: float
) -> list[CapacityOption]:
    name = "/".join(p for p in (offer.supplier, offer.instance_type, offer.region) if p)
    common = {
        "supplier": offer.supplier,
        "gpu": offer.gpu,
        "gpus_per_unit": offer.gpus_per_unit,
        "efficiency": eff,
        "max_units": None if offer.capacity_units is None else float(offer.capacity_units),
        "reliability": reliability,
    }
    out = []
    if offer.contract in (ContractKind.RESERVED, ContractKind.OWNED):
        months = offer.term_months or 1.0
        out.append(
            CapacityOption(
                name=f"{name}/{offer.contract.value}",
                contract=offer.contract,
                price_usd_per_unit_hour=offer.price_usd_per_hour or 0.0,
                upfront_usd_per_unit=offer.upfront_usd,
                term_periods=_periods(months * HOURS_PER_MONTH, period_hours, minimum=1),
                lead_periods=_periods(offer.lead_time_days * 24, period_hours, minimum=0),
                min_units=offer.min_units,
                **common,  # type: ignore[arg-type]
            )
        )
    elif offer.contract is ContractKind.ON_DEMAND and offer.price_usd_per_hour is not None:
        out.append(
            CapacityOption(
                name=f"{name}/on_demand",
                contract=ContractKind.ON_DEMAND,
                price_usd_per_unit_hour=offer.price_usd_per_hour,
                **common,  # type: ignore[arg-type]
            )
        )
    if offer.spot_price_usd_per_hour is not None:
        out.append(
            CapacityOption(
                name=f"{name}/spot",
                contract=ContractKind.SPOT,
                price_usd_per_unit_hour=offer.spot_price_usd_per_hour,
                availability=spot[0],
                **{**common, "efficiency": eff * spot[1]},  # type: ignore[arg-type]
            )
        )
    return out
