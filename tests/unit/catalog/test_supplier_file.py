from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet.catalog.gpus import GpuTable
from gpufleet.catalog.problems import CatalogError, LoadReport, ProblemKind
from gpufleet.catalog.supplier_file import load_supplier_file
from gpufleet.domain.offer import HOURS_PER_MONTH, ContractKind
from gpufleet.domain.supplier import SupplierKind

from factories import FIXTURES, REPO

EXAMPLE = REPO / "docs" / "examples" / "suppliers" / "example-colo.yaml"


def test_the_documented_colocation_contract(table: GpuTable, report: LoadReport) -> None:
    loaded = load_supplier_file(EXAMPLE, table, report)
    assert loaded is not None
    assert report.problems == []
    assert loaded.example
    assert (loaded.supplier.id, loaded.supplier.kind) == ("example-colo", SupplierKind.COLOCATION)
    assert loaded.supplier.as_of == "2026-11-01"
    reserved, owned = loaded.offers
    assert reserved.contract is ContractKind.RESERVED
    assert (reserved.gpu, reserved.gpus_per_unit, reserved.term_months) == ("H100-SXM", 8, 12)
    assert reserved.hourly_usd_per_gpu() == pytest.approx(1.85)
    assert reserved.lead_time_days == 42
    assert (reserved.min_gpus, reserved.capacity_gpus) == (8, 64)
    assert owned.contract is ContractKind.OWNED
    assert owned.hourly_usd() == pytest.approx(6.0 + 250_000 / (48 * HOURS_PER_MONTH))


def test_bad_entries_are_reported_with_line_and_key(table: GpuTable, report: LoadReport) -> None:
    loaded = load_supplier_file(FIXTURES / "suppliers" / "broken.yaml", table, report)
    assert loaded is not None
    assert len(loaded.offers) == 2  # the first H100 entry and the spot T4
    spot = loaded.offers[1]
    assert (spot.contract, spot.spot_price_usd_per_hour) == (ContractKind.SPOT, 0.12)
    got = [(p.line, p.field, p.kind) for p in report.problems]
    assert got == [
        (14, "prise_usd_per_hour", ProblemKind.MALFORMED),
        (16, "gpu", ProblemKind.UNKNOWN_GPU),
        (20, None, ProblemKind.MALFORMED),
        (27, "price_usd_per_hour", ProblemKind.MALFORMED),
    ]
    assert "unknown key(s) prise_usd_per_hour" in report.problems[0].message
    assert "needs term_months" in report.problems[2].message
    assert "exactly one of" in report.problems[3].message


def test_strict_mode_raises_on_the_first_bad_entry(table: GpuTable) -> None:
    with pytest.raises(CatalogError, match=r"broken.yaml:14: \[prise_usd_per_hour\]"):
        load_supplier_file(FIXTURES / "suppliers" / "broken.yaml", table, LoadReport(strict=True))


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("format: v0\nsupplier: x\noffers: []\n", "must be 'gpufleet-supplier/v1'", 1),
        ("format: gpufleet-supplier/v1\nsupplier: Bad Name\noffers: []\n", "must be an id", 2),
        (
            "format: gpufleet-supplier/v1\nsupplier: x\nkind: friend\noffers: []\n",
            "got 'friend'",
            3,
        ),
        ("format: gpufleet-supplier/v1\nsupplier: x\n", "offers must be a list", 1),
        (
            "format: gpufleet-supplier/v1\nsupplier: x\nsupplier: y\noffers: []\n",
            "duplicate key",
            3,  # the duplicate's own line
        ),
        ("format: gpufleet-supplier/v1\nsupplier: [x\n", "not valid YAML: while parsing", 3),
        ("- just\n- a list\n", "must be a YAML mapping", 1),
    ],
)
def test_a_broken_file_header_is_one_problem(
    tmp_path: Path, table: GpuTable, report: LoadReport, text: str, message: str, line: int
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    assert load_supplier_file(path, table, report) is None
    [problem] = report.problems
    assert message in problem.message
    assert problem.line == line
    assert problem.path == str(path)


def test_example_files_are_recognised_without_reading_their_offers(
    table: GpuTable, report: LoadReport
) -> None:
    loaded = load_supplier_file(EXAMPLE, table, report, include_examples=False)
    assert loaded is not None
    assert loaded.example
    assert loaded.offers == ()
    assert report.offers == 0
    assert report.files == []


def test_a_folder_with_an_example_file_skips_it(tmp_path: Path, table: GpuTable) -> None:
    from gpufleet.catalog.sources import CatalogSources, load_offers

    (tmp_path / "example-colo.yaml").write_text(EXAMPLE.read_text())
    catalog = load_offers(CatalogSources(supplier_files=(tmp_path,)), table)
    assert catalog.offers == []
    assert catalog.report.skipped["example-colo: example file (name it to load it)"] == 1
    named = load_offers(CatalogSources(supplier_files=(tmp_path / "example-colo.yaml",)), table)
    assert len(named.offers) == 2
