from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpufleet.cli.main import app
from gpufleet.cli.placement_commands import parse_seeds

from factories import FIXTURES


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "traces").mkdir()
    (tmp_path / "traces" / "openb").symlink_to(FIXTURES / "openb")
    monkeypatch.setenv("GPUFLEET_DATA", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def test_seed_ranges_and_lists() -> None:
    assert parse_seeds("42-45") == [42, 43, 44, 45]
    assert parse_seeds("1,3-4") == [1, 3, 4]
    assert parse_seeds("42,42,41-42") == [42, 41]  # each seed once
    with pytest.raises(ValueError, match="not a seed"):
        parse_seeds("x")


def test_every_policy_as_json(data: Path) -> None:
    args = ["placement-bench", "--policy", "all", "--seeds", "1-2", "--jobs", "1", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["policy"] for r in rows} >= {
        "random",
        "dotprod",
        "gpu-clustering",
        "gpu-packing",
        "best-fit",
        "fgd",
    }
    for row in rows:
        assert row["seeds"] == [1, 2]
        assert 0 < row["allocation_at_130_mean"] <= 100
        assert row["published_allocation_at_130_mean"] is None


def test_table_and_plot(data: Path, tmp_path: Path) -> None:
    plot = tmp_path / "alloc.png"
    args = [
        "placement-bench",
        "--policy",
        "best-fit,fgd",
        "--seeds",
        "1",
        "--jobs",
        "2",
        "--plot",
        str(plot),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "best-fit" in result.stdout
    assert "fgd" in result.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "nope"], "unknown policy nope"),
        (["--workload", "nope"], "unknown workload nope"),
        (["--seeds", "a-b"], "--seeds"),
        (["--policy", ","], "no policy given"),
        (["--compare-published"], "FGD's results were not found"),
    ],
)
def test_bad_arguments(data: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["placement-bench", *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_missing_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUFLEET_DATA", str(tmp_path))
    result = CliRunner().invoke(app, ["placement-bench"])
    assert result.exit_code == 2
    assert "openb trace was not found" in result.stderr


@pytest.mark.shared_data
def test_compare_published_on_the_real_trace(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPUFLEET_DATA", str(shared_data))
    args = ["placement-bench", "--policy", "fgd", "--seeds", "42", "--compare-published", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["published_allocation_at_130_mean"] == pytest.approx(95.39, abs=0.01)
    assert row["allocation_at_130_mean"] == pytest.approx(95.39, abs=0.6)
