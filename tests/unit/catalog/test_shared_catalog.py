"""The real price catalog in ../shared/data/catalog, read end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet.catalog.gpus import GpuTable
from gpufleet.catalog.problems import ProblemKind
from gpufleet.catalog.query import OfferQuery, gpu_filter, select_offers
from gpufleet.catalog.sources import CatalogSources, OfferCatalog, load_offers

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def catalog(shared_data: Path, table: GpuTable) -> OfferCatalog:
    return load_offers(CatalogSources(catalogs=(shared_data / "catalog",)), table)


def test_every_file_reads_without_malformed_rows(catalog: OfferCatalog) -> None:
    assert len(catalog.report.files) == 21
    assert catalog.report.problems_of(ProblemKind.MALFORMED) == []
    assert len(catalog.offers) > 2000


def test_only_the_unnamed_azure_gpus_are_unknown(catalog: OfferCatalog) -> None:
    unknown = catalog.report.problems_of(ProblemKind.UNKNOWN_GPU)
    assert {p.path.rsplit("/", 1)[-1] for p in unknown} == {"azure_vms_partial.csv"}
    assert all("has no AcceleratorName" in p.message for p in unknown)


def test_h100_family_from_at_least_15_suppliers(catalog: OfferCatalog, table: GpuTable) -> None:
    query = OfferQuery(gpus=gpu_filter(table, ["H100"]))
    rows = select_offers(catalog.offers, table, query)
    suppliers = {r.offer.supplier for r in rows}
    assert len(suppliers) >= 15, sorted(suppliers)
    assert {r.offer.gpu for r in rows} == {"H100-SXM", "H100-PCIe", "H100-NVL"}


def test_aws_p5_in_us_east_1_is_6_88_per_gpu(catalog: OfferCatalog) -> None:
    p5 = [
        o
        for o in catalog.offers
        if o.supplier == "aws" and o.instance_type == "p5.48xlarge" and o.region == "us-east-1"
    ]
    assert p5
    assert {round(o.hourly_usd_per_gpu() or 0, 4) for o in p5} == {6.88}


def test_gcp_offers_are_host_plus_gpu(catalog: OfferCatalog) -> None:
    a3 = [
        o
        for o in catalog.offers
        if o.supplier == "gcp" and o.instance_type == "a3-highgpu-1g" and o.zone == "us-central1-a"
    ]
    assert len(a3) == 1
    # host row 1.18251 + GPU-only H100 x1 row in the same zone
    assert a3[0].price_usd_per_hour is not None
    assert a3[0].price_usd_per_hour > 1.18251 + 4.0
    assert a3[0].gpu == "H100-SXM"


def test_azure_nd_h100_v5_counts_8_gpus(catalog: OfferCatalog) -> None:
    nd = [o for o in catalog.offers if o.instance_type == "Standard_ND96isr_H100_v5"]
    assert nd
    assert {o.gpus_per_unit for o in nd} == {8}
    east = [o for o in nd if o.region == "eastus"]
    assert east[0].hourly_usd_per_gpu() == pytest.approx(98.32 / 8)
