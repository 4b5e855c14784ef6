"""``python -m gpufleet.agent.acceptance`` and ``gpufleet acceptance``: the same test on this
machine, judged against the GPU table; JSON for machines, a table for people, exit 1 on a failed
GPU, 2 on bad usage; and nothing imported that a GPU machine without the server lacks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from gpufleet.agent import burn_in
from gpufleet.agent.acceptance import command
from gpufleet.agent.acceptance.command import acceptance
from gpufleet.cli.main import app as gpufleet_app

SRC = Path(burn_in.__file__).resolve().parents[2]


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def invoke(runner: CliRunner, *args: str) -> Any:
    app = typer.Typer()
    app.command()(acceptance)
    return runner.invoke(app, list(args))


def test_json_lists_every_check_and_verdict(runner: CliRunner) -> None:
    args = ["--fake-gpus", "3xH100-SXM", "--fake-faults", "1=slow,2=ecc", "--json"]
    result = invoke(runner, *args)
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["simulated"] is True
    assert document["passed"] is False
    assert document["limits"]["min_tflops_fraction_of_spec"] == 0.60
    gpus = document["gpus"]
    assert [g["check"]["index"] for g in gpus] == [0, 1, 2]
    assert [g["expected"] for g in gpus] == ["H100-SXM"] * 3
    assert [g["verdict"]["passed"] for g in gpus] == [True, False, False]
    assert gpus[1]["verdict"]["reasons"][0].startswith("BF16 matmul")
    assert gpus[2]["check"]["ecc_errors"] == 2
    assert gpus[0]["verdict"]["notes"] == ["burn-in simulated: the figures are not measurements"]


def test_a_wrong_model_fails_against_what_was_ordered(runner: CliRunner) -> None:
    result = invoke(runner, "--fake-gpus", "2xH200", "--fake-faults", "1=wrong-model", "--json")
    gpus = json.loads(result.stdout)["gpus"]
    assert gpus[1]["check"]["model"] == "H100-SXM"
    assert gpus[1]["expected"] == "H200"
    assert "but H200 was promised" in gpus[1]["verdict"]["reasons"][0]


def test_expect_names_the_promised_model_and_gpus_picks_them(runner: CliRunner) -> None:
    result = invoke(runner, "--fake-gpus", "4xA100-40GB", "--gpus", "2,3", "--expect", "a100 80gb")
    assert result.exit_code == 1
    assert "reports model A100-40GB" in result.stdout
    assert "but A100-80GB was promised" in result.stdout
    assert "acceptance: testing GPUs 2,3 (NVIDIA A100" in result.stderr


def test_a_healthy_machine_passes_with_a_table(runner: CliRunner) -> None:
    result = invoke(runner, "--fake-gpus", "2xL4", "--burn-in-s", "5")
    assert result.exit_code == 0, result.output
    assert "Acceptance test (burn-in: simulated)" in result.stdout
    assert result.stdout.count("pass") == 2
    assert "all GPUs: note: burn-in simulated" in result.stdout
    assert "thresholds: BF16 >= 60% of spec, bandwidth >= 85%" in result.stdout


def test_thresholds_can_be_set(runner: CliRunner) -> None:
    args = ["--fake-gpus", "1xL4", "--min-tflops-fraction", "0.99", "--json"]
    result = invoke(runner, *args)
    assert result.exit_code == 1
    assert "(needs >= 99%)" in json.loads(result.stdout)["gpus"][0]["verdict"]["reasons"][0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fake-gpus", "2xZ999"], "unknown GPU model 'Z999'"),
        (["--fake-gpus", "2xL4", "--fake-faults", "5=hot"], "there is no GPU 5"),
        (["--fake-faults", "0=hot"], "--fake-faults needs --fake-gpus"),
        (["--fake-gpus", "2xL4", "--gpus", "1,7"], r"--gpus '1,7': no GPU 7 here \(have 0,1\)"),
        (["--fake-gpus", "2xL4", "--gpus", "one"], "expected GPU indices such as 0,1"),
        (["--fake-gpus", "2xL4", "--expect", "H10"], "unknown GPU model 'H10'"),
    ],
)
def test_bad_usage_exits_2_with_the_reason(
    runner: CliRunner, args: list[str], message: str
) -> None:
    result = invoke(runner, *args)
    assert result.exit_code == 2
    assert re.search(message, result.stderr), result.stderr


def test_without_nvml_it_says_how_to_simulate(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_nvml() -> None:
        raise command.GpuSourceError("NVML is not available on this machine")

    monkeypatch.setattr(command, "NvmlSource", no_nvml)
    result = invoke(runner)
    assert result.exit_code == 2
    assert "try --fake-gpus 4xH100-SXM" in result.stderr


def test_it_is_also_gpufleet_acceptance(runner: CliRunner) -> None:
    result = runner.invoke(gpufleet_app, ["acceptance", "--fake-gpus", "1xH100", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["passed"] is True


def test_gpufleet_agent_checks_its_fault_spec_before_starting(runner: CliRunner) -> None:
    args = ["agent", "--token", "t", "--fake-gpus", "2xL4", "--fake-faults", "2=slow"]
    result = runner.invoke(gpufleet_app, args)
    assert result.exit_code == 2
    assert "there is no GPU 2 (the node has 2)" in result.output


def test_the_module_entry_runs_without_the_servers_packages() -> None:
    # Not pydantic: recent Typer versions need it themselves.
    blocker = (
        "import sys, runpy\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'fastapi', 'sqlalchemy', 'highspy', 'statsmodels',\n"
        "                                  'uvicorn', 'numpy', 'alembic', 'jinja2'}:\n"
        "            raise ModuleNotFoundError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "sys.argv = ['acceptance', '--fake-gpus', '2xH200', '--fake-faults', '1=hot', '--json']\n"
        "runpy.run_module('gpufleet.agent.acceptance', run_name='__main__')\n"
    )
    done = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-c", blocker],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert [g["verdict"]["passed"] for g in document["gpus"]] == [True, False]
