"""Every quirk of SkyPilot-format catalogs, each on a small fixture file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet.catalog.gpus import GpuTable
from gpufleet.catalog.problems import CatalogError, LoadReport, ProblemKind
from gpufleet.catalog.skypilot import load_vms_csv, supplier_from_path
from gpufleet.domain.offer import ContractKind, Offer

from factories import FIXTURES

CATALOG = FIXTURES / "catalog"


def load(name: str, table: GpuTable, report: LoadReport) -> dict[str, Offer]:
    offers = load_vms_csv(CATALOG / name, table, report)
    return {o.instance_type: o for o in offers}


def test_supplier_comes_from_the_file_name() -> None:
    assert supplier_from_path(Path("aws_vms_partial.csv")) == "aws"
    assert supplier_from_path(Path("catalogs/v8/lambda/vms.csv")) == "lambda"


def test_aws_price_per_gpu_and_empty_prices(table: GpuTable, report: LoadReport) -> None:
    offers = load("aws_vms.csv", table, report)
    p5 = offers["p5.48xlarge"]
    assert (p5.gpu, p5.gpus_per_unit, p5.region, p5.zone) == (
        "H100-SXM",
        8,
        "us-east-1",
        "use1-az1",
    )
    assert p5.hourly_usd_per_gpu() == pytest.approx(6.88)
    assert p5.spot_price_usd_per_hour is None  # empty SpotPrice
    assert "p5e.48xlarge" not in offers  # no price at all (capacity blocks only)
    assert report.skipped["aws: no price listed"] == 1
    assert p5.source.endswith("aws_vms.csv:2")


def test_aws_fractional_gpu_slices(table: GpuTable, report: LoadReport) -> None:
    g6f = load("aws_vms.csv", table, report)["g6f.2xlarge"]
    assert (g6f.gpu, g6f.gpus_per_unit) == ("L4", 0.25)
    assert g6f.hourly_usd_per_gpu() == pytest.approx(1.60)


def test_gcp_gpu_price_rows_are_added_to_their_host_rows(
    table: GpuTable, report: LoadReport
) -> None:
    offers = load("gcp_vms.csv", table, report)
    a3 = offers["a3-highgpu-8g"]
    assert (a3.gpu, a3.gpus_per_unit) == ("H100-SXM", 8)
    assert a3.price_usd_per_hour == pytest.approx(10.0 + 33.6)
    assert a3.spot_price_usd_per_hour == pytest.approx(3.0 + 12.0)
    a2 = offers["a2-ultragpu-1g"]
    assert (a2.gpu, a2.price_usd_per_hour) == ("A100-80GB", pytest.approx(1.1 + 3.9))
    assert (
        a2.spot_price_usd_per_hour is None
    )  # the GPU row has no spot price, so neither has the sum
    assert report.skipped["gcp: host VM without a GPU price row"] == 1  # a2-highgpu-2g
    assert report.skipped["gcp: GPU price row without a host VM row"] == 1  # L4 (g2 hosts absent)
    assert report.skipped["gcp: not a GPU (tpu-v6e-1)"] == 1
    assert report.skipped["gcp: CPU-only instance"] == 1
    assert len(offers) == 2
    assert report.problems == []


def test_azure_count_fix_name_overrides_and_unnamed_gpus(
    table: GpuTable, report: LoadReport
) -> None:
    offers = load("azure_vms.csv", table, report)
    nd = offers["Standard_ND96isr_H100_v5"]
    assert (nd.gpu, nd.gpus_per_unit) == ("H100-SXM", 8)  # the catalog says 12
    assert nd.hourly_usd_per_gpu() == pytest.approx(98.32 / 8)
    assert nd.spot_price_usd_per_hour is None  # SpotPrice == Price is Azure's placeholder
    assert offers["Standard_NC40ads_H100_v5"].gpu == "H100-NVL"
    assert offers["Standard_NC80adis_H100_v5"].gpu == "H100-NVL"
    ncc = offers["Standard_NCC40ads_H100_v5"]  # AcceleratorName empty in the catalog
    assert (ncc.gpu, ncc.gpus_per_unit, ncc.spot_price_usd_per_hour) == ("H100-NVL", 1, 1.745)
    assert offers["Standard_NC24ads_A100_v4"].spot_price_usd_per_hour == 0.73
    assert "Standard_NC12" not in offers  # empty prices
    assert report.skipped["azure: no price listed"] == 1
    assert report.skipped["azure: CPU-only instance"] == 1  # Standard_D2s_v3
    # An N-series VM without an accelerator name is a GPU we cannot name: reported, not dropped.
    [unknown] = report.problems_of(ProblemKind.UNKNOWN_GPU)
    assert "Standard_NC8ads_A10_v4" in unknown.message
    assert (unknown.line, unknown.field) == (5, "AcceleratorName")


def test_vast_spot_zero_is_no_spot_and_memory_is_the_node_total(
    table: GpuTable, report: LoadReport
) -> None:
    offers = load("vast_vms.csv", table, report)
    nvl = offers["1x-H100_NVL-32-65536"]
    assert nvl.gpu == "H100-NVL"
    assert nvl.spot_price_usd_per_hour is None
    assert offers["2x-A100_SXM4-32-65536"].gpu == "A100-40GB"  # 81920 MiB over 2 GPUs


def test_runpod_memory_in_gb_and_name_hints(table: GpuTable, report: LoadReport) -> None:
    offers = load("runpod_vms.csv", table, report)
    assert offers["1x_H100_SECURE"].gpu == "H100-PCIe"  # GpuInfo name 'H100 PCIe'
    assert offers["2x_H100-NVL_SECURE"].gpu == "H100-NVL"
    assert offers["1x_H100_SECURE"].spot_price_usd_per_hour is None  # copies Price


def test_primeintellect_json_node_total_and_spot_only_rows(
    table: GpuTable, report: LoadReport
) -> None:
    offers = load("primeintellect_vms.csv", table, report)
    h100 = offers["someprovider__8xH100_80GB__208__1800"]
    assert (h100.gpu, h100.gpus_per_unit) == ("H100-SXM", 8)
    spot = offers["someprovider__1xA100_80GB__22__120__SPOT"]
    assert spot.contract is ContractKind.SPOT
    assert (spot.price_usd_per_hour, spot.spot_price_usd_per_hour) == (None, 0.52)
    assert report.skipped["primeintellect: CPU-only instance"] == 1


def test_cudo_count_as_text_and_bare_a100_that_is_80gb(table: GpuTable, report: LoadReport) -> None:
    [offer] = load("cudo_vms.csv", table, report).values()
    assert (offer.gpu, offer.gpus_per_unit) == ("A100-80GB", 1)


def test_hyperstack_null_manufacturer(table: GpuTable, report: LoadReport) -> None:
    [offer] = load("hyperstack_vms.csv", table, report).values()
    assert offer.gpu == "H100-PCIe"
    assert report.problems == []


def test_lium_total_memory_inside_the_list(table: GpuTable, report: LoadReport) -> None:
    [offer] = load("lium_vms.csv", table, report).values()
    assert (offer.gpu, offer.gpus_per_unit, offer.price_usd_per_hour) == ("RTX-4090", 2, 0.70)


def test_lambda_crlf_and_form_factor_in_the_instance_type(
    table: GpuTable, report: LoadReport
) -> None:
    assert b"\r\n" in (CATALOG / "lambda_vms.csv").read_bytes()
    offers = load("lambda_vms.csv", table, report)
    assert offers["gpu_1x_h100_pcie"].gpu == "H100-PCIe"
    assert offers["gpu_8x_h100_sxm5"].gpu == "H100-SXM"
    assert offers["gpu_1x_h100_pcie"].source.endswith("lambda_vms.csv:2")


def test_malformed_rows_are_reported_with_line_and_column(
    table: GpuTable, report: LoadReport
) -> None:
    offers = load_vms_csv(FIXTURES / "broken" / "bad_vms.csv", table, report)
    assert [o.instance_type for o in offers] == ["good.1"]
    found = {(p.line, p.field, p.kind) for p in report.problems}
    assert found == {
        (3, "Price", ProblemKind.MALFORMED),
        (4, "AcceleratorCount", ProblemKind.MALFORMED),
        (5, "GpuInfo", ProblemKind.MALFORMED),
        (6, "AcceleratorName", ProblemKind.UNKNOWN_GPU),
    }
    assert "bad_vms.csv:3: [Price] not a number: 'cheap'" in str(report.problems[0])
    assert "WARP-9000" in report.problems_of(ProblemKind.UNKNOWN_GPU)[0].message


def test_strict_mode_fails_on_the_first_problem(table: GpuTable) -> None:
    with pytest.raises(CatalogError, match=r"bad_vms.csv:3: \[Price\]"):
        load_vms_csv(FIXTURES / "broken" / "bad_vms.csv", table, LoadReport(strict=True))


def test_a_file_without_the_required_columns_is_one_problem(
    table: GpuTable, report: LoadReport
) -> None:
    assert load_vms_csv(FIXTURES / "broken" / "nocolumns_vms.csv", table, report) == []
    [problem] = report.problems
    assert "missing column(s) AcceleratorName, AcceleratorCount, Region" in problem.message


def test_a_missing_file_is_an_error(table: GpuTable, report: LoadReport) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        load_vms_csv(CATALOG / "nope_vms.csv", table, report)
