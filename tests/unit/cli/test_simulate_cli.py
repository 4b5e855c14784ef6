"""gpufleet simulate: one policy or several on the same jobs, JSON, report and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpufleet.cli.main import app

SMALL = "poisson:rate=3,jobs=60,seed=1"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_two_policies_on_the_same_jobs_as_json(runner: CliRunner, shared_data: Path) -> None:
    _ = shared_data
    result = runner.invoke(
        app, ["simulate", "--trace", SMALL, "--compare", "min-jct,fifo", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data["policies"]) == {"min-jct", "fifo"}
    for metrics in data["policies"].values():
        assert metrics["completed"] == 60
        assert metrics["unfinished"] == 0
        assert metrics["avg_jct_h"] > 0
    assert "60 jobs on 36xv100, 36xp100, 36xk80" in result.stderr


def test_the_table_report_and_plot(runner: CliRunner, shared_data: Path, tmp_path: Path) -> None:
    _ = shared_data
    report, plot = tmp_path / "sim.html", tmp_path / "jct.png"
    result = runner.invoke(
        app,
        ["simulate", "--trace", SMALL, "--cluster", "4xV100,4xK80", "--policy", "las",
         "--report", str(report), "--plot", str(plot)],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()[2], result.stdout.splitlines()[4]
    assert "JCT h" in header
    assert row.split("│")[1].strip() == "las"
    html = report.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 2
    assert "4xv100, 4xk80" in html
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_bad_names_are_clear_errors(runner: CliRunner) -> None:
    result = runner.invoke(app, ["simulate", "--policy", "nope"])
    assert result.exit_code == 2
    assert "unknown policy nope; known: " in result.stderr
    result = runner.invoke(app, ["simulate", "--trace", "philly:1"])
    assert result.exit_code == 1
    assert "unknown trace 'philly:1'; valid forms: gavel:seed=N" in result.stderr


def test_a_cluster_the_trace_has_no_throughput_for(runner: CliRunner, shared_data: Path) -> None:
    _ = shared_data
    result = runner.invoke(app, ["simulate", "--trace", SMALL, "--cluster", "8xH100"])
    assert result.exit_code == 1
    assert "cluster type(s) h100 not in trace" in result.stderr
