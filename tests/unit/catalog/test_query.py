from __future__ import annotations

import pytest

from gpufleet.catalog.gpus import GpuTable, UnknownGpuError
from gpufleet.catalog.query import OfferQuery, SortKey, gpu_filter, select_offers
from gpufleet.domain.offer import ContractKind

from factories import make_offer

OFFERS = [
    make_offer(supplier="aws", instance_type="p5", region="us-east-1", price_usd_per_hour=55.04),
    make_offer(supplier="aws", instance_type="p5", region="eu-west-1", price_usd_per_hour=60.0),
    make_offer(supplier="lambda", instance_type="1x", gpus_per_unit=1, gpu="H100-PCIe",
               price_usd_per_hour=2.49, region="us-south-1"),
    make_offer(supplier="vast", instance_type="4090", gpu="RTX-4090", gpus_per_unit=1,
               price_usd_per_hour=0.35, spot_price_usd_per_hour=0.20, region="Texas, US, NA"),
    make_offer(supplier="gcp", instance_type="a2-ultragpu-8g", gpu="A100-80GB",
               price_usd_per_hour=40.0, spot_price_usd_per_hour=16.0, region="us-central1"),
    make_offer(supplier="pi", instance_type="spot-h200", gpu="H200", gpus_per_unit=1,
               contract=ContractKind.SPOT, price_usd_per_hour=None, spot_price_usd_per_hour=1.5),
]  # fmt: skip


def ids(rows: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(r.offer.supplier, r.offer.region) for r in rows]


def test_family_filter_and_cheapest_per_supplier(table: GpuTable) -> None:
    query = OfferQuery(gpus=gpu_filter(table, ["H100"]))
    rows = select_offers(OFFERS, table, query)
    assert ids(rows) == [("lambda", "us-south-1"), ("aws", "us-east-1")]
    assert rows[1].regions == 2
    assert rows[1].usd_per_gpu_hour == pytest.approx(6.88)


def test_all_expands_regions(table: GpuTable) -> None:
    rows = select_offers(OFFERS, table, OfferQuery(gpus=frozenset({"H100-SXM"}), collapse=False))
    assert ids(rows) == [("aws", "us-east-1"), ("aws", "eu-west-1")]


def test_spot_uses_spot_prices_and_only_spot_offers(table: GpuTable) -> None:
    rows = select_offers(OFFERS, table, OfferQuery(spot=True))
    assert [(r.offer.instance_type, r.usd_per_gpu_hour) for r in rows] == [
        ("4090", 0.20),
        ("spot-h200", 1.5),
        ("a2-ultragpu-8g", 2.0),
    ]


def test_spot_only_offers_are_not_listed_at_contract_prices(table: GpuTable) -> None:
    rows = select_offers(OFFERS, table, OfferQuery())
    assert "spot-h200" not in [r.offer.instance_type for r in rows]


def test_numeric_filters(table: GpuTable) -> None:
    rows = select_offers(OFFERS, table, OfferQuery(min_gpus=8, max_price_per_gpu_hour=6.0))
    assert [r.offer.instance_type for r in rows] == ["a2-ultragpu-8g"]
    rows = select_offers(OFFERS, table, OfferQuery(suppliers=frozenset({"aws"}), region="EU-"))
    assert ids(rows) == [("aws", "eu-west-1")]


def test_sort_orders(table: GpuTable) -> None:
    by_price = select_offers(OFFERS, table, OfferQuery(sort=SortKey.PRICE))
    assert [r.usd_per_hour for r in by_price] == sorted(r.usd_per_hour for r in by_price)
    by_memory = select_offers(OFFERS, table, OfferQuery(sort=SortKey.MEMORY))
    memories = [r.gpu_memory_gib for r in by_memory]
    assert memories == sorted(memories, reverse=True)
    by_tflop = select_offers(OFFERS, table, OfferQuery(sort=SortKey.PRICE_PER_TFLOP))
    per_tflop = [r.usd_per_tflop_hour for r in by_tflop]
    assert per_tflop == sorted(per_tflop)
    h100 = next(r for r in by_tflop if r.offer.supplier == "aws")
    assert h100.usd_per_tflop_hour == pytest.approx(6.88 / table.require("H100-SXM").bf16_tflops)


def test_limit(table: GpuTable) -> None:
    assert len(select_offers(OFFERS, table, OfferQuery(limit=2))) == 2


def test_an_unknown_gpu_filter_is_an_error(table: GpuTable) -> None:
    with pytest.raises(UnknownGpuError, match="WARP"):
        gpu_filter(table, ["WARP-9000"])
    assert gpu_filter(table, []) is None
