"""Filter, price, sort and collapse offers: what ``gpufleet offers`` shows, as a pure function.

Prices are compared per unit (``price``), per GPU (``price-per-gpu``), per dense 16-bit TFLOP
(``price-per-tflop``: the per-GPU price divided by the model's dense BF16 TFLOPS, or FP16 where
the GPU has no BF16), or by GPU memory per unit (``memory``, largest first). With ``spot`` the
spot price is used and offers without one are left out; otherwise the contract price is used
(upfront payments amortised over the term) and spot-only offers are left out.

Collapsing keeps the cheapest offer per (GPU model, GPUs per unit, supplier, contract kind) and
counts the regions it stands for.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from gpufleet.catalog.gpus import GpuTable
from gpufleet.domain.gpu import GpuModel
from gpufleet.domain.offer import Offer


class SortKey(enum.StrEnum):
    PRICE = "price"
    PRICE_PER_GPU = "price-per-gpu"
    PRICE_PER_TFLOP = "price-per-tflop"
    MEMORY = "memory"


@dataclass(frozen=True, slots=True)
class OfferQuery:
    gpus: frozenset[str] | None = None
    """Canonical model ids to keep (``None``: all)."""
    min_gpus: float | None = None
    max_price_per_gpu_hour: float | None = None
    suppliers: frozenset[str] | None = None
    region: str | None = None
    """Case-insensitive substring of the region (``us-east`` matches ``us-east-1``)."""
    spot: bool = False
    sort: SortKey = SortKey.PRICE_PER_GPU
    collapse: bool = True
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class OfferRow:
    """One line of the offer table: an offer with its derived prices."""

    offer: Offer
    model: GpuModel
    usd_per_hour: float
    usd_per_gpu_hour: float
    usd_per_tflop_hour: float | None
    gpu_memory_gib: float | None
    """GPU memory of one unit (GPUs per unit x memory per GPU)."""
    regions: int = 1
    """How many offers (regions, zones) this row stands for after collapsing."""


def price_row(offer: Offer, model: GpuModel, *, spot: bool) -> OfferRow | None:
    unit = offer.hourly_usd(spot=spot)
    if unit is None:
        return None
    per_gpu = unit / offer.gpus_per_unit
    tflops = model.dense_tflops
    memory = None if model.memory_gib is None else model.memory_gib * offer.gpus_per_unit
    return OfferRow(
        offer=offer,
        model=model,
        usd_per_hour=unit,
        usd_per_gpu_hour=per_gpu,
        usd_per_tflop_hour=None if tflops is None else per_gpu / tflops,
        gpu_memory_gib=memory,
    )


def _matches(offer: Offer, query: OfferQuery) -> bool:
    if query.gpus is not None and offer.gpu not in query.gpus:
        return False
    if query.min_gpus is not None and offer.gpus_per_unit < query.min_gpus:
        return False
    if query.suppliers is not None and offer.supplier not in query.suppliers:
        return False
    return query.region is None or query.region.lower() in (offer.region or "").lower()


def _sort_key(row: OfferRow, key: SortKey) -> tuple[float, ...]:
    inf = float("inf")
    tie = (row.usd_per_gpu_hour, row.usd_per_hour)
    if key is SortKey.PRICE:
        return (row.usd_per_hour, row.usd_per_gpu_hour)
    if key is SortKey.PRICE_PER_TFLOP:
        per_tflop = row.usd_per_tflop_hour
        return (inf if per_tflop is None else per_tflop, *tie)
    if key is SortKey.MEMORY:
        return (-(row.gpu_memory_gib or 0.0), *tie)
    return tie


def _identity(row: OfferRow) -> tuple[str, str, str, str]:
    o = row.offer
    return (o.supplier, o.region or "", o.zone or "", o.instance_type)


def select_offers(offers: Iterable[Offer], table: GpuTable, query: OfferQuery) -> list[OfferRow]:
    """The rows ``gpufleet offers`` shows for ``query``, in order."""
    rows: list[OfferRow] = []
    for offer in offers:
        if not _matches(offer, query):
            continue
        row = price_row(offer, table.get(offer.gpu), spot=query.spot)
        if row is None:
            continue
        if (
            query.max_price_per_gpu_hour is not None
            and row.usd_per_gpu_hour > query.max_price_per_gpu_hour
        ):
            continue
        rows.append(row)
    rows.sort(key=lambda r: (_sort_key(r, SortKey.PRICE_PER_GPU), _identity(r)))
    if query.collapse:
        rows = _collapse(rows)
    rows.sort(key=lambda r: (_sort_key(r, query.sort), _identity(r)))
    return rows if query.limit is None else rows[: query.limit]


def _collapse(rows_cheapest_first: list[OfferRow]) -> list[OfferRow]:
    groups: dict[tuple[str, float, str, str], list[OfferRow]] = {}
    for row in rows_cheapest_first:
        o = row.offer
        groups.setdefault((o.gpu, o.gpus_per_unit, o.supplier, o.contract.value), []).append(row)
    collapsed = []
    for members in groups.values():
        best = members[0]
        places = {(r.offer.region, r.offer.zone) for r in members}
        collapsed.append(
            OfferRow(
                offer=best.offer,
                model=best.model,
                usd_per_hour=best.usd_per_hour,
                usd_per_gpu_hour=best.usd_per_gpu_hour,
                usd_per_tflop_hour=best.usd_per_tflop_hour,
                gpu_memory_gib=best.gpu_memory_gib,
                regions=len(places),
            )
        )
    return collapsed


def gpu_filter(table: GpuTable, names: Iterable[str]) -> frozenset[str] | None:
    """The model ids a list of ``--gpu`` values means (families expand); ``None`` for no filter.

    Raises ``UnknownGpuError`` for a name that is neither a family nor a known model.
    """
    names = list(names)
    if not names:
        return None
    ids: set[str] = set()
    for name in names:
        ids |= table.matching(name)
    return frozenset(ids)
