"""``gpufleet plan``, run in-process through Typer's test runner, on the textbook example (two
suppliers, no catalog) and, where the shared data is present, on the startup-growth example."""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gpufleet.cli.main import app

from factories import REPO

EXAMPLES = REPO / "examples"
TEXTBOOK = str(EXAMPLES / "textbook-ab.yaml")
STRATEGIES = (
    "gpufleet-plan",
    "all-on-demand",
    "single-cheapest-supplier",
    "reserve-base-load-p10",
    "perfect-foresight",
)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    # No shared data unless a test names it: the result must not depend on the machine.
    empty = tmp_path / "no-shared-data"
    empty.mkdir()
    monkeypatch.setenv("GPUFLEET_DATA", str(empty))
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def plan_json(runner: CliRunner, *args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["plan", *args, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def costs(data: dict[str, Any]) -> dict[str, float]:
    return {e["name"]: e["expected_cost_usd"] for e in data["evaluations"]}


def scenario_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def textbook_with(tmp_path: Path, old: str, new: str) -> Path:
    """The textbook scenario with one fragment replaced, beside a copy of its supplier files."""
    shutil.copytree(EXAMPLES / "textbook", tmp_path / "textbook")
    text = (EXAMPLES / "textbook-ab.yaml").read_text(encoding="utf-8")
    assert old in text
    return scenario_file(tmp_path, text.replace(old, new, 1))


# ---------------------------------------------------------------------------- the textbook case


def test_the_textbook_case_orders_supplier_a_each_month(runner: CliRunner) -> None:
    result = runner.invoke(app, ["plan", TEXTBOOK])
    assert result.exit_code == 0, result.output
    orders = [line for line in result.stdout.splitlines() if re.match(r"│ month \d", line)]
    assert len(orders) == 2
    for month, row in enumerate(orders):
        cells = [c.strip() for c in row.strip("│").split("│")]
        assert cells[0] == f"month {month}"
        assert cells[1] == "supplier-a"
        assert (cells[3], cells[4], cells[5], cells[6]) == ("1", "2", "1 month", "$1,000")
    assert "Gap to the perfect-foresight bound: +0.0%." in result.stdout
    assert "Cheaper than every baseline" in result.stdout
    assert "NOT cheaper" not in result.stdout
    assert "textbook-ab: 2 months, 2 capacity options from 2 suppliers" in result.stderr


def test_the_textbook_case_as_json(runner: CliRunner) -> None:
    data = plan_json(runner, TEXTBOOK)
    assert (data["scenario"], data["periods"], data["period"]) == ("textbook-ab", 2, "month")
    assert (data["scenarios"], data["evaluation_scenarios"]) == (20, 50)
    assert data["status"] == "optimal"
    assert [(o["supplier"], o["start"], o["units"]) for o in data["orders"]] == [
        ("supplier-a", "month 0", 1),
        ("supplier-a", "month 1", 1),
    ]
    assert [o["cost_usd"] for o in data["orders"]] == pytest.approx([1000.0, 1000.0])
    by_name = costs(data)
    assert list(by_name) == list(STRATEGIES)  # ours first, the bound last
    assert by_name["gpufleet-plan"] == pytest.approx(2000.0)
    assert by_name["single-cheapest-supplier"] == pytest.approx(4000.0)  # "more GPUs": B
    assert by_name["perfect-foresight"] == pytest.approx(2000.0)
    ours = data["evaluations"][0]
    assert ours["committed_usd_per_supplier"] == pytest.approx({"supplier-a": 2000.0})
    assert (ours["shortfall_probability"], ours["expected_unmet_gpu_hours"]) == (0.0, 0.0)
    assert data["beats_every_baseline"] is True
    assert data["gap_to_bound"] == pytest.approx(0.0, abs=1e-6)
    assert data["diagnosis"] == []
    assert data["notes"][0] == f"offers from {EXAMPLES / 'textbook'}"


def test_command_line_options_override_the_file(runner: CliRunner) -> None:
    args = ["--horizon", "1", "--scenarios", "3", "--evaluation-scenarios", "4", "--seed", "9"]
    result = runner.invoke(app, ["plan", TEXTBOOK, *args, "--risk", "cvar:0.9@0.5", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["periods"], data["scenarios"], data["evaluation_scenarios"]) == (1, 3, 4)
    assert [(o["supplier"], o["start_period"]) for o in data["orders"]] == [("supplier-a", 0)]
    assert costs(data)["gpufleet-plan"] == pytest.approx(1000.0)
    assert "3 scenarios to plan on, 4 to judge on, risk cvar:0.9@0.5" in result.stderr


def test_the_report_is_one_html_file_with_two_embedded_plots(
    runner: CliRunner, tmp_path: Path
) -> None:
    report = tmp_path / "plan.html"
    result = runner.invoke(app, ["plan", TEXTBOOK, "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert f"report written to {report}" in result.stderr
    html = report.read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 2
    assert all(base64.b64decode(image).startswith(b"\x89PNG\r\n\x1a\n") for image in images)
    for name in STRATEGIES:
        assert f"<td>{name}</td>" in html
    assert "<h1>Procurement plan: textbook-ab</h1>" in html
    assert html.count("<td>supplier-a</td>") == 2  # the two purchase orders


def test_the_orders_csv_holds_one_row_per_order(runner: CliRunner, tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    result = runner.invoke(app, ["plan", TEXTBOOK, "--orders", str(orders)])
    assert result.exit_code == 0, result.output
    assert f"purchase orders written to {orders}" in result.stderr
    with orders.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [
        {
            "supplier": "supplier-a",
            "offer": "supplier-a/a-2gpu-month/reserved",
            "units": "1",
            "gpus": "2",
            "start_period": str(month),
            "start": f"month {month}",
            "term_periods": "1",
            "cost_usd": "1000.00",
        }
        for month in (0, 1)
    ]


# ---------------------------------------------------------------------------- errors


def test_a_malformed_scenario_names_the_file_and_line(runner: CliRunner, tmp_path: Path) -> None:
    path = textbook_with(tmp_path, "horizon: 2\n", "horizon: 2\nhorizon_weeks: 8\n")
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code == 1
    assert f"error: {path}:11:" in result.stderr
    assert "unknown key(s) horizon_weeks" in result.stderr
    assert not result.stdout
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback


def test_invalid_yaml_names_the_file_and_line(runner: CliRunner, tmp_path: Path) -> None:
    path = scenario_file(tmp_path, "format: gpufleet-scenario/v1\nhorizon: [2\n")
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code == 1
    assert f"{path}:3: not valid YAML" in result.stderr


def test_a_missing_scenario_file_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = runner.invoke(app, ["plan", str(missing)])
    assert result.exit_code != 0
    assert f"error: {missing}: cannot read: No such file or directory" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--risk", "var:0.9"], "risk must look like cvar:0.95"),
        (["--horizon", "two weeks"], "horizon must be a number of periods or a length"),
    ],
)
def test_bad_options_are_clear_errors(runner: CliRunner, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["plan", TEXTBOOK, *args])
    assert result.exit_code == 1
    assert message in result.stderr
    assert TEXTBOOK in result.stderr


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    - project: recsys\n", "    - project: recsys\n      gpu: L5\n", "GPU model 'L5'"),
        ("reference_gpu: L4", "reference_gpu: L-4", "reference_gpu: unknown GPU model 'L-4'"),
        ("catalog: none", "catalog: none\n  suppliers: [nobody]", "no offer matches"),
    ],
)  # fmt: skip
def test_assembly_problems_are_clear_errors(
    runner: CliRunner, tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = textbook_with(tmp_path, old, new)
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code == 1, result.output
    assert f"error: {path}: " in result.stderr
    assert message in result.stderr


# ---------------------------------------------------------------------------- edge cases


def test_an_error_names_the_key(runner: CliRunner, tmp_path: Path) -> None:
    path = textbook_with(tmp_path, "horizon: 2\n", "horizon: 2\nhorizon_weeks: 8\n")
    result = runner.invoke(app, ["plan", str(path)])
    assert f"error: {path}:11: [horizon_weeks] unknown key(s) horizon_weeks" in result.stderr


def test_the_report_uses_no_deprecated_matplotlib(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", TEXTBOOK, "--report", str(tmp_path / "plan.html")])
    assert result.exit_code == 0, repr(result.exception)


def test_a_one_period_horizon_reads_as_singular(runner: CliRunner) -> None:
    result = runner.invoke(app, ["plan", TEXTBOOK, "--horizon", "1", "--json"])
    assert "textbook-ab: 1 month, 2 capacity options" in result.stderr


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_an_existing_fleet_that_covers_all_demand(
    runner: CliRunner, tmp_path: Path, as_json: bool
) -> None:
    path = textbook_with(tmp_path, "seed: 7\n", "seed: 7\nexisting:\n  - {gpu: L4, gpus: 2}\n")
    result = runner.invoke(app, ["plan", str(path), *(["--json"] if as_json else [])])
    assert result.exit_code == 0, result.output
    if as_json:
        data = json.loads(result.stdout)
        assert set(costs(data).values()) == {0.0}
        assert data["gap_to_bound"] == 0.0
        assert data["orders"] == []


def test_a_broken_supplier_file_is_reported(runner: CliRunner, tmp_path: Path) -> None:
    path = textbook_with(tmp_path, "seed: 7", "seed: 7")
    offer_a = tmp_path / "textbook" / "supplier-a.yaml"
    offer_a.write_text(
        offer_a.read_text(encoding="utf-8").replace("term_months: 1", "term_month: 1"),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["plan", str(path), "--json"])
    assert f"{offer_a}:" in result.stderr + result.stdout  # the problem, with its file and line


# ---------------------------------------------------------------------------- shared data


@pytest.mark.shared_data
def test_startup_growth_beats_every_baseline_near_the_bound(
    runner: CliRunner, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPUFLEET_DATA", str(shared_data))
    example = str(EXAMPLES / "startup-growth.yaml")
    data = plan_json(runner, example, "--scenarios", "20", "--evaluation-scenarios", "40")
    assert (data["scenarios"], data["evaluation_scenarios"], data["periods"]) == (20, 40, 26)
    assert data["status"] == "optimal"
    assert data["beats_every_baseline"] is True
    assert 0 <= data["gap_to_bound"] < 0.10
    by_name = costs(data)
    assert all(by_name["gpufleet-plan"] < by_name[name] for name in STRATEGIES[1:-1])
    assert data["notes"][0].startswith(f"offers from {shared_data / 'catalog'}")


def test_json_on_stdout_is_only_json_in_a_fresh_process() -> None:
    """The solver's banner (printed by highspy's first solver of a process, from C) goes to
    stderr: stdout stays parseable."""
    done = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "gpufleet.cli.main", "plan", TEXTBOOK, "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(done.stdout)["scenario"] == "textbook-ab"
    assert "Running HiGHS" not in done.stdout
