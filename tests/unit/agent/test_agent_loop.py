"""The agent loop against a fake control plane: register → heartbeat → start → logs →
finished, stop assignments, re-registration, riding out an unreachable server."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from agent_fakes import AGENT_DEFAULTS, TOKEN, FakeServer, MakeAgent, agents_on

from gpufleet.agent import nvml
from gpufleet.agent.agent import NodeAgent, open_gpu_source, run_agent
from gpufleet.agent.client import AuthError
from gpufleet.agent.config import AgentConfig
from gpufleet.agent.gpu_source import GpuSourceError, SourceOptions

PY = sys.executable
WAIT_S = 10.0
SLEEPER = [PY, "-c", "print('up', flush=True); import time; time.sleep(60)"]


def config(**overrides: Any) -> AgentConfig:
    return AgentConfig(**(AGENT_DEFAULTS | {"grace_s": 2.0, "retries": 1} | overrides))


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def make_agent(server: FakeServer) -> Iterator[MakeAgent]:
    with agents_on(server, config) as make:
        yield make


def wait_job(agent: NodeAgent, job_id: int) -> None:
    assert agent.runner.wait(job_id, WAIT_S), f"job {job_id} did not end"


def test_a_job_runs_and_is_reported_in_order(server: FakeServer, make_agent: MakeAgent) -> None:
    code = (
        "import os\n"
        "print(os.environ['CUDA_VISIBLE_DEVICES'])\n"
        "print('job', os.environ['GPUFLEET_JOB_ID'])"
    )
    server.schedule(1, [PY, "-c", code], [2, 3])
    agent = make_agent()
    agent.step(0.0)
    assert server.paths() == ["register", "heartbeat", "1/started"]
    wait_job(agent, 1)
    agent.step(1.0)
    assert server.paths() == ["register", "heartbeat", "1/started", "1/logs", "1/finished"]

    register = server.bodies("/register")[0]
    assert register | {"gpus": None} == {
        "name": "node-a",
        "gpus": None,
        "simulated": True,
        "cpu_count": 16,
        "memory_gib": 64.0,
    }
    assert [(g["index"], g["model"], g["memory_gib"]) for g in register["gpus"]] == [
        (i, "H100-SXM", 80.0) for i in range(4)
    ]
    heartbeat = server.bodies("/heartbeat")[0]
    assert (heartbeat["node"], heartbeat["running"]) == ("node-a", [])
    assert [t["index"] for t in heartbeat["telemetry"]] == [0, 1, 2, 3]
    assert set(heartbeat["telemetry"][0]) == {
        "index",
        "utilisation_pct",
        "memory_used_gib",
        "temperature_c",
        "power_w",
    }
    assert server.bodies("/1/logs") == [{"lines": ["2,3", "job 1"]}]
    assert server.bodies("/1/finished") == [{"exit_code": 0, "stopped": False}]
    assert server.jobs[1].state == "succeeded"
    agent.step(4.9)  # nothing due, nothing to say
    assert len(server.calls) == 5


def test_heartbeats_report_running_jobs_and_busy_gpus(
    server: FakeServer, make_agent: MakeAgent
) -> None:
    server.schedule(1, SLEEPER, [0, 1])
    agent = make_agent()
    agent.step(0.0)
    agent.step(5.0)
    heartbeat = server.bodies("/heartbeat")[-1]
    assert heartbeat["running"] == [1]
    utilisation = [t["utilisation_pct"] for t in heartbeat["telemetry"]]
    assert min(utilisation[:2]) >= 85.0
    assert max(utilisation[2:]) <= 3.0
    assert server.paths().count("1/started") == 1  # never started twice


def test_a_stop_assignment_terminates_the_job(server: FakeServer, make_agent: MakeAgent) -> None:
    server.schedule(1, SLEEPER, [0])
    agent = make_agent()
    agent.step(0.0)
    server.request_stop(1)
    agent.step(5.0)
    wait_job(agent, 1)
    agent.step(6.0)
    # "up" is sent at 5 s or 6 s if the child printed it before SIGTERM reached it.
    calls = [p for p in server.paths() if p != "1/logs"]
    assert calls == ["register", "heartbeat", "1/started", "heartbeat", "1/finished"]
    assert server.bodies("/1/finished") == [{"exit_code": 143, "stopped": True}]
    assert server.jobs[1].lines in ([], ["up"])
    assert server.jobs[1].state == "cancelled"
    assert agent.runner.running() == []


@pytest.mark.parametrize("refusal", [404, 409])
def test_the_node_registers_again_when_the_server_does_not_know_it(
    server: FakeServer, make_agent: MakeAgent, refusal: int
) -> None:
    agent = make_agent()
    agent.step(0.0)
    server.refuse_next_heartbeat = refusal  # e.g. the server restarted on an empty database
    agent.step(5.0)
    assert server.paths() == ["register", "heartbeat", "heartbeat", "register", "heartbeat"]
    assert [c.status for c in server.calls] == [200, 200, refusal, 200, 200]
    first, again = server.bodies("/register")
    assert first == again
    assert agent.registered


def test_jobs_keep_running_and_reports_wait_while_the_server_is_down(
    server: FakeServer, make_agent: MakeAgent
) -> None:
    code = "for i in range(5): print('line', i)"
    server.schedule(1, [PY, "-c", code], [0])
    agent = make_agent(max_buffered_lines=3, max_lines_per_call=2)
    agent.step(0.0)
    server.down = True
    wait_job(agent, 1)
    agent.step(1.0)  # logs fail: nothing raised, nothing lost yet beyond the buffer bound
    agent.step(5.0)  # heartbeat fails too
    server.down = False
    agent.step(6.0)
    assert server.paths()[3:] == ["1/logs", "1/logs", "1/finished", "heartbeat"]
    assert server.jobs[1].lines == [
        "[gpufleet-agent: 2 lines dropped while the server was unreachable]",
        "line 2",
        "line 3",
        "line 4",
    ]
    assert server.jobs[1].state == "succeeded"


def test_a_job_the_server_refuses_to_mark_started_is_not_spawned(
    server: FakeServer, make_agent: MakeAgent
) -> None:
    server.schedule(1, SLEEPER, [0])
    server.schedule(2, SLEEPER, [7])  # this node has GPUs 0-3 only
    server.refuse_started = {1}
    agent = make_agent()
    agent.step(0.0)
    assert server.paths() == ["register", "heartbeat", "1/started"]
    assert agent.runner.running() == []


def test_the_server_sets_the_heartbeat_interval(server: FakeServer, make_agent: MakeAgent) -> None:
    server.heartbeat_s = 2.0
    agent = make_agent()
    agent.step(0.0)
    assert agent.wait_s(0.5) == 1.0  # poll_s bounds the wait
    assert agent.wait_s(1.5) == 0.5
    agent.step(1.9)
    agent.step(2.0)
    assert server.paths() == ["register", "heartbeat", "heartbeat"]


def test_a_rejected_token_is_fatal(server: FakeServer, make_agent: MakeAgent) -> None:
    agent = make_agent(token="wrong")  # noqa: S106 - not a secret
    with pytest.raises(AuthError, match="401"):
        agent.step(0.0)


def test_jobs_do_not_see_the_agent_token(
    server: FakeServer, make_agent: MakeAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPUFLEET_TOKEN", TOKEN)
    code = (
        "import os; print(os.environ.get('GPUFLEET_TOKEN'), os.environ['GPUFLEET_SIMULATED_GPUS'])"
    )
    server.schedule(1, [PY, "-c", code], [0])
    agent = make_agent()
    agent.step(0.0)
    wait_job(agent, 1)
    agent.step(1.0)
    assert server.jobs[1].lines == ["None 1"]


def test_without_nvml_the_error_says_how_to_use_fake_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise GpuSourceError("NVML is not available on this machine")

    monkeypatch.setattr(nvml, "load_pynvml", missing)
    with pytest.raises(GpuSourceError, match="--fake-gpus 4xH100-SXM"):
        open_gpu_source(config(fake_gpus=None), SourceOptions())


def test_config_checks_its_values() -> None:
    for bad, field in [
        ({"server_url": "control:8000"}, "server_url"),
        ({"token": ""}, "token"),
        ({"heartbeat_s": 0}, "heartbeat_s"),
        ({"grace_s": -1}, "grace_s"),
    ]:
        with pytest.raises(ValueError, match=field):
            config(**bad)


def test_run_agent_loops_until_stopped_then_stops_and_reports_jobs(server: FakeServer) -> None:
    server.schedule(1, SLEEPER, [0])
    now = [0.0]
    stop = threading.Event()

    def sleep(seconds: float) -> None:
        now[0] += seconds
        if now[0] >= 12.0:
            stop.set()

    run_agent(
        config(poll_s=1.0),
        clock=lambda: now[0],
        sleep=sleep,
        stop_event=stop,
        transport=server.transport,
    )
    assert server.paths().count("heartbeat") == 3  # at 0, 5 and 10 s
    assert server.paths()[-1] == "1/finished"
    assert server.bodies("/1/finished") == [{"exit_code": 143, "stopped": True}]
