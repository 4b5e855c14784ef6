"""The ``gpufleet`` command, run in-process through Typer's test runner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpufleet.cli.main import app

from factories import FIXTURES, REPO

CATALOG = str(FIXTURES / "catalog")


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    # No shared data unless a test names it: the result must not depend on the machine.
    monkeypatch.setenv("GPUFLEET_DATA", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def test_offers_json_over_a_catalog(runner: CliRunner) -> None:
    result = runner.invoke(app, ["offers", "--catalog", CATALOG, "--gpu", "H100", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["gpu"] for r in rows} == {"H100-SXM", "H100-PCIe", "H100-NVL"}
    p5 = next(r for r in rows if r["instance_type"] == "p5.48xlarge")
    assert p5["price_usd_per_gpu_hour"] == pytest.approx(6.88)
    per_gpu = [r["price_usd_per_gpu_hour"] for r in rows]
    assert per_gpu == sorted(per_gpu)
    assert "Read " in result.stderr  # the load summary goes to stderr, not into the JSON


def test_offers_table(runner: CliRunner) -> None:
    result = runner.invoke(app, ["offers", "--catalog", CATALOG, "--gpu", "a100-80gb", "--spot"])
    assert result.exit_code == 0, result.output
    assert "a2-ultragpu-1g" not in result.stdout  # no spot price
    assert "someprovider__1xA100_80GB__22__120__SPOT" in result.stdout


@pytest.mark.parametrize(("columns", "wide"), [("80", False), ("200", True)])
def test_offer_table_fits_the_terminal(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, columns: str, wide: bool
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    result = runner.invoke(app, ["offers", "--catalog", CATALOG, "--gpu", "H100"])
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= int(columns)
    assert ("vCPUs" in result.stdout) is wide
    assert "6.880" in result.stdout  # AWS p5 per-GPU price, never truncated


def test_offers_from_the_built_in_table_when_no_catalog_exists(runner: CliRunner) -> None:
    result = runner.invoke(app, ["offers", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len({r["supplier"] for r in rows}) >= 10
    assert "built-in offer table" in result.stderr
    assert not any(r["supplier"] == "example-colo" for r in rows)  # examples load only by name


def test_private_contracts_are_added(runner: CliRunner) -> None:
    example = str(REPO / "docs" / "examples" / "suppliers" / "example-colo.yaml")
    args = ["offers", "--catalog", CATALOG, "--suppliers", example, "--gpu", "H100-SXM", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = {r["contract"]: r for r in json.loads(result.stdout) if r["supplier"] == "example-colo"}
    assert rows["reserved"]["price_usd_per_gpu_hour"] == pytest.approx(1.85)
    assert rows["reserved"]["lead_time_days"] == 42
    # Owning: $6/h opex plus $250k capex over 48 months, per GPU — cheaper than reserving.
    assert rows["owned"]["price_usd_per_gpu_hour"] == pytest.approx((6 + 250_000 / (48 * 730)) / 8)
    assert list(rows) == ["owned", "reserved"]  # sorted by price per GPU


def test_unknown_gpu_filter_is_a_clear_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["offers", "--catalog", CATALOG, "--gpu", "H1000"])
    assert result.exit_code == 2
    assert "--gpu: unknown GPU model 'H1000'" in result.stderr
    assert "Did you mean" in result.stderr


def test_unknown_supplier_is_a_clear_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["offers", "--catalog", CATALOG, "--supplier", "nowhere"])
    assert result.exit_code == 2
    assert "no offers from 'nowhere'" in result.stderr


def test_bad_rows_are_counted_then_listed_then_fatal_in_strict_mode(runner: CliRunner) -> None:
    broken = str(FIXTURES / "broken" / "bad_vms.csv")
    result = runner.invoke(app, ["offers", "--catalog", broken])
    assert result.exit_code == 0
    assert "4 rows could not be read" in result.stderr
    result = runner.invoke(app, ["offers", "--catalog", broken, "--problems"])
    assert "bad_vms.csv:6: [AcceleratorName] unknown GPU model 'WARP-9000'" in result.stderr
    result = runner.invoke(app, ["offers", "--catalog", broken, "--strict"])
    assert result.exit_code == 1
    assert "bad_vms.csv:3: [Price] not a number" in result.stderr


def test_missing_catalog_path(runner: CliRunner) -> None:
    result = runner.invoke(app, ["offers", "--catalog", "/nonexistent/catalog"])
    assert result.exit_code == 1
    assert "/nonexistent/catalog" in result.stderr


def test_gpus_table_json_and_resolve(runner: CliRunner) -> None:
    result = runner.invoke(app, ["gpus"])
    assert result.exit_code == 0
    assert "H100-SXM" in result.stdout
    assert "specs undisclosed" in result.stdout
    result = runner.invoke(app, ["gpus", "--family", "H100", "--json"])
    assert {m["id"] for m in json.loads(result.stdout)} == {"H100-SXM", "H100-PCIe", "H100-NVL"}
    result = runner.invoke(app, ["gpus", "--resolve", "NVIDIA A100-SXM4-80GB"])
    assert "A100-80GB" in result.stdout
    result = runner.invoke(app, ["gpus", "--resolve", "WARP-9000"])
    assert result.exit_code == 2


@pytest.mark.shared_data
def test_the_done_when_command_over_the_shared_catalog(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, shared_data: Path
) -> None:
    monkeypatch.setenv("GPUFLEET_DATA", str(shared_data))
    result = runner.invoke(app, ["offers", "--gpu", "H100", "--sort", "price-per-gpu", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len({r["supplier"] for r in rows}) >= 15
    aws = next(r for r in rows if r["supplier"] == "aws" and r["instance_type"] == "p5.48xlarge")
    assert aws["price_usd_per_gpu_hour"] == pytest.approx(6.88)


def test_user_commands_do_not_load_the_planner_simulator_or_server() -> None:
    """``gpufleet jobs`` and friends start in well under a second: the heavy commands (plan,
    simulate, placement-bench, up) load their modules only when they run."""
    code = (
        "import sys; from gpufleet.cli.main import app; "
        "heavy = [m for m in ('statsmodels', 'numba', 'matplotlib', 'fastapi', 'sqlalchemy') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    done = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == ""
