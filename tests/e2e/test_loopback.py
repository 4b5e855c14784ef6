"""The control plane end to end on loopback: ``gpufleet up`` (a subprocess), an agent with fake
GPUs, jobs that are real subprocesses, and the CLI.

One scenario, in the order a fleet lives it (one test: each step starts from the last one's
state):

1. three jobs from two projects run, finish, and their logs and exit codes show through the API
   and the CLI; a fourth job needing every GPU waits while they run, then runs;
2. the agent stops: within a few heartbeat intervals its node is lost and its running job is
   pending again; the agent comes back: the job runs;
3. the server is SIGKILLed in the middle of a run and restarted on the same database: no job is
   lost, none runs twice, not a log line is lost or repeated.
"""

from __future__ import annotations

import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_harness import HEARTBEAT_S, AgentThread, Cli, ServerProcess, free_port, script, wait_for
from typer.testing import CliRunner

from gpufleet.cli.client import FleetClient
from gpufleet.domain.job import JobState
from gpufleet.server.schemas import JobPublic

pytestmark = pytest.mark.e2e
NODE = "node-a"


@dataclass
class Fleet:
    server: ServerProcess
    api: FleetClient
    cli: Cli
    agent: AgentThread
    agents: list[AgentThread]

    def submit(self, project: str, gpus: int, command: list[str]) -> int:
        result = self.cli.ok("submit", "-p", project, "--gpus", str(gpus), "--", *command)
        return int(result.stdout)

    def logs(self, job_id: int) -> list[str]:
        return [line.text for line in self.api.logs(job_id).lines]

    def jobs(self) -> dict[int, JobPublic]:
        return {job.id: job for job in self.api.jobs()}

    def node_state(self) -> str:
        return {n.name: n.state.value for n in self.api.nodes()}.get(NODE, "")


def test_jobs_run_wait_survive_a_lost_agent_and_a_killed_server(
    tmp_path: Path, runner: CliRunner, servers: list[ServerProcess], agents: list[AgentThread]
) -> None:
    server = ServerProcess(tmp_path / "data", free_port(), tmp_path)
    servers.append(server)
    server.start()
    admin = server.admin_token()
    api = FleetClient(server.url, admin)
    cli = Cli(runner, server.url, admin)
    cli.ok("projects", "create", "vision")
    cli.ok("projects", "create", "nlp")
    agent = AgentThread(server.url, api.create_token("agent", "agent", node=NODE).token, NODE)
    agent.start()
    fleet = Fleet(server, api, cli, agent, agents)
    agents.append(agent)
    try:
        wait_for(lambda: fleet.node_state() == "up", 30, "the agent to register")
        three_jobs_run_and_a_big_one_waits(fleet)
        a_stopped_agent_loses_its_node_and_its_job_runs_when_it_returns(fleet)
        a_killed_server_loses_no_job_and_runs_none_twice(fleet, admin)
        fleet.agent.stop()
        assert server.signal(signal.SIGINT) == 0, server.output()
    finally:
        api.close()


def three_jobs_run_and_a_big_one_waits(fleet: Fleet) -> None:
    vision = fleet.submit(
        "vision",
        2,
        script(
            "import time", "for i in range(4):", "    print(f'vision {i}')", "    time.sleep(0.3)"
        ),
    )
    failing = fleet.submit(
        "nlp",
        1,
        script(
            "import sys",
            "print('nlp starting', flush=True)",
            "print('nlp: bad input', file=sys.stderr, flush=True)",
            "sys.exit(3)",
        ),
    )
    nlp = fleet.submit(
        "nlp", 1, script("import time", "print('nlp')", "time.sleep(1)", "print('ok')")
    )
    big = fleet.submit(
        "vision", 4, script("import os", "print(os.environ['CUDA_VISIBLE_DEVICES'])")
    )
    first = [vision, failing, nlp]
    waited = []

    def all_final() -> dict[int, JobPublic]:
        jobs = fleet.jobs()
        others_run = any(jobs[j].state is JobState.RUNNING for j in first)
        waited.append(jobs[big].state is JobState.PENDING and others_run)
        return jobs if all(jobs[j].state.final for j in [*first, big]) else {}

    done = wait_for(all_final, 30, "the four jobs to finish")
    assert any(waited), "the 4-GPU job never waited while the others ran"
    assert [(done[j].state, done[j].exit_code, done[j].attempts) for j in [*first, big]] == [
        (JobState.SUCCEEDED, 0, 0),
        (JobState.FAILED, 3, 0),
        (JobState.SUCCEEDED, 0, 0),
        (JobState.SUCCEEDED, 0, 0),
    ]
    started_big = done[big].started_at
    assert started_big is not None
    assert all((done[j].finished_at or started_big) <= started_big for j in first)
    assert {done[j].project for j in first} == {"vision", "nlp"}

    assert fleet.logs(vision) == [f"vision {i}" for i in range(4)]
    assert fleet.logs(failing) == ["nlp starting", "nlp: bad input"]  # stderr too
    assert fleet.logs(nlp) == ["nlp", "ok"]
    assert fleet.logs(big) == ["0,1,2,3"]

    cli = fleet.cli
    assert cli.ok("logs", str(failing)).stdout.splitlines() == ["nlp starting", "nlp: bad input"]
    listed = {j["id"]: j for j in json.loads(cli.ok("jobs", "--json").stdout)}
    assert [(listed[j]["state"], listed[j]["exit_code"]) for j in first] == [
        ("succeeded", 0),
        ("failed", 3),
        ("succeeded", 0),
    ]
    row = next(r for r in cli.ok("jobs").stdout.splitlines() if r.split()[0] == str(failing))
    assert row.split()[1:4] == ["nlp", "-", "failed"]
    assert " sim " in cli.ok("nodes").stdout


def a_stopped_agent_loses_its_node_and_its_job_runs_when_it_returns(fleet: Fleet) -> None:
    ticking = fleet.submit(
        "vision",
        1,
        script(
            "import time",
            "print('ticking start', flush=True)",
            "for i in range(6):",
            "    time.sleep(0.2)",
            "    print(f'tick {i}', flush=True)",
        ),
    )
    wait_for(lambda: "ticking start" in fleet.logs(ticking), 20, "the job to start")
    stopped_at = time.monotonic()
    fleet.agent.stop()

    def lost_and_pending() -> bool:
        return fleet.node_state() == "lost" and fleet.api.job(ticking).state is JobState.PENDING

    wait_for(lost_and_pending, 10, "the node lost and its job pending")
    took_s = time.monotonic() - stopped_at
    # Lost once 3 heartbeats are missed; the check runs every heartbeat: at most 4 intervals.
    assert took_s <= 4 * HEARTBEAT_S + 1.0, f"{took_s:.2f} s"

    config = fleet.agent.config
    fleet.agent = AgentThread(config.server_url, config.token, NODE)
    fleet.agents.append(fleet.agent)
    fleet.agent.start()
    rerun = wait_for(
        lambda: (job := fleet.api.job(ticking)).state.final and job, 20, "the job to run again"
    )
    assert (rerun.state, rerun.exit_code) == (JobState.SUCCEEDED, 0)
    assert rerun.attempts >= 1
    lines = fleet.logs(ticking)
    assert lines.count("ticking start") == 2  # stopped once, then run to the end
    assert lines[-7:] == ["ticking start"] + [f"tick {i}" for i in range(6)]


def a_killed_server_loses_no_job_and_runs_none_twice(fleet: Fleet, admin: str) -> None:
    steady = fleet.submit(
        "vision",
        1,
        script(
            "import time",
            "print('steady start', flush=True)",
            "for i in range(12):",
            "    print(f'line {i}', flush=True)",
            "    time.sleep(0.25)",
        ),
    )
    wait_for(lambda: len(fleet.logs(steady)) >= 3, 20, "the job to be running")
    before = fleet.jobs()
    assert before[steady].state is JobState.RUNNING
    server = fleet.server
    assert server.signal(signal.SIGKILL) == -signal.SIGKILL

    # Restarted with the default loss window: the server gives the node a whole window after it
    # comes back, so its downtime does not requeue the running job (it would run twice).
    server.start()
    assert server.admin_token() == admin

    def finished() -> dict[int, JobPublic]:
        jobs = fleet.jobs()
        return jobs if jobs[steady].state.final else {}

    after = wait_for(finished, 30, "the job to finish", server.output)
    assert (after[steady].state, after[steady].exit_code) == (JobState.SUCCEEDED, 0)
    assert after[steady].attempts == before[steady].attempts  # not run twice
    assert fleet.logs(steady) == ["steady start"] + [f"line {i}" for i in range(12)]
    assert set(after) == set(before)  # no job lost
    assert all(after[j] == job for j, job in before.items() if job.state.final)
    assert fleet.node_state() == "up"
    assert fleet.cli.ok("logs", str(steady)).stdout.splitlines()[-1] == "line 11"
