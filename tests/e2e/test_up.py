"""``gpufleet up`` as a new user meets it: one command starts the server and a local agent with
simulated GPUs; a submitted command runs and its output shows; Ctrl-C stops the agent first
(its running job goes back to pending) and then the server; starting again on the same data dir
resumes with the same admin token and the same jobs."""

from __future__ import annotations

import signal
import stat
from pathlib import Path

import pytest
from e2e_harness import Cli, ServerProcess, free_port, script, wait_for
from typer.testing import CliRunner

from gpufleet.cli.client import FleetClient
from gpufleet.domain.job import JobState

pytestmark = pytest.mark.e2e


def test_up_runs_a_command_stops_on_ctrl_c_and_resumes(
    tmp_path: Path, runner: CliRunner, servers: list[ServerProcess]
) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data, free_port(), tmp_path, args=("--fake-gpus", "2xA100-80GB"))
    servers.append(server)
    server.start()
    token_file = data / "admin-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    admin = server.admin_token()
    banner = wait_for(
        lambda: "Ctrl-C stops" in server.stdout.read_text() and server.stdout.read_text(),
        30,
        "the banner",
        server.output,
    )
    assert f"gpufleet is up on {server.url}/" in banner
    assert f"export GPUFLEET_TOKEN={admin}" in banner
    assert "SIMULATED GPUs (2x A100-80GB)" in banner

    cli = Cli(runner, server.url, admin)
    api = FleetClient(server.url, admin)
    try:
        hello = int(cli.ok("submit", "--", *script("print('hello')")).stdout)
        job = wait_for(lambda: (j := api.job(hello)).state.final and j, 30, "hello to finish")
        assert (job.state, job.exit_code, job.project) == (JobState.SUCCEEDED, 0, "default")
        assert cli.ok("logs", str(hello)).stdout == "hello\n"
        assert cli.ok("nodes").stdout.count("A100-80GB sim") == 2

        command = script("import time", "print('long start', flush=True)", "time.sleep(60)")
        long = int(cli.ok("submit", "--name", "long", "--", *command).stdout)
        wait_for(lambda: api.logs(long).lines, 30, "the long job to start")
        assert server.signal(signal.SIGINT) == 0, server.output()
        stopped = server.stderr.read_text()
        assert stopped.index("stopping the local agent") < stopped.index("stopping the server")

        server.start()  # same data dir: same token, same jobs
        assert server.admin_token() == admin
        resumed = wait_for(
            lambda: (j := api.job(long)).state is JobState.RUNNING and j.attempts >= 1 and j,
            30,
            "the long job to run again",
            server.output,
        )
        assert resumed.name == "long"  # requeued once by Ctrl-C (again if the scheduler had
        # placed it on the node meanwhile: the restarted server finds that node silent)
        assert api.job(hello).state is JobState.SUCCEEDED
        assert "cancel requested" in cli.ok("cancel", str(long)).stdout
        wait_for(lambda: api.job(long).state is JobState.CANCELLED, 30, "the cancel")
        assert server.signal(signal.SIGINT) == 0, server.output()
    finally:
        api.close()
