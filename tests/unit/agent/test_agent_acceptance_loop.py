"""Acceptance tests in the agent loop, against the fake control plane: a heartbeat's request
starts the test in the background, ``step`` never waits for it, a test id runs once, the report
waits out an unreachable server and is dropped when refused, shutdown cancels a running test."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from agent_fakes import AGENT_DEFAULTS, FakeServer, MakeAgent, agents_on

from gpufleet.agent.agent import NodeAgent, build_agent
from gpufleet.agent.burn_in import BurnInResult
from gpufleet.agent.config import AgentConfig
from gpufleet.agent.messages import HostInfo
from gpufleet.domain.acceptance import BurnIn

WAIT_S = 10.0


class GatedLauncher:
    """Burn-ins that end only once ``gate`` is set (a test holds them running)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.running = threading.Event()
        self.started: list[int] = []
        self.killed: list[int] = []

    def start(self, index: int, seconds: float) -> GatedBurnIn:
        self.started.append(index)
        self.running.set()
        return GatedBurnIn(self, index)


class GatedBurnIn:
    def __init__(self, launcher: GatedLauncher, index: int) -> None:
        self.launcher = launcher
        self.index = index

    def poll(self) -> BurnInResult | None:
        if not self.launcher.gate.is_set():
            return None
        return BurnInResult(BurnIn.TORCH, bf16_tflops=800.0, memory_bandwidth_gbps=3000.0)

    def kill(self) -> None:
        self.launcher.killed.append(self.index)


def config(**overrides: Any) -> AgentConfig:
    return AgentConfig(**(AGENT_DEFAULTS | {"retries": 0, "acceptance_sample_s": 0.01} | overrides))


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def make_agent(server: FakeServer) -> Iterator[MakeAgent]:
    with agents_on(server, config) as make:
        yield make


def finish(agent: NodeAgent) -> None:
    assert agent.acceptance.join(WAIT_S), "the acceptance test did not end"


def test_a_requested_test_runs_in_the_background_and_is_reported(
    server: FakeServer, make_agent: MakeAgent, caplog: pytest.LogCaptureFixture
) -> None:
    agent = make_agent(fake_faults="2=ecc")
    server.request_acceptance(7, [(0, "H100-SXM"), (2, "H100-SXM")], burn_in_s=30.0)
    agent.step(0.0)
    assert server.paths() == ["register", "heartbeat"]
    finish(agent)
    with caplog.at_level(logging.INFO, logger="gpufleet"):
        agent.step(1.0)
    assert server.paths() == ["register", "heartbeat", "acceptance/7"]
    report = server.reports[7]
    assert report["node"] == "node-a"
    assert [(r["index"], r["burn_in"], r["ecc_errors"]) for r in report["results"]] == [
        (0, "simulated", 0),
        (2, "simulated", 2),
    ]
    assert "acceptance test 7: 1 of 2 GPUs passed; node is quarantined" in caplog.text
    assert "GPU 2 failed: 2 uncorrected ECC errors during the test (needs 0)" in caplog.text
    agent.step(5.0)  # the server no longer asks: nothing runs again
    assert server.paths()[-1] == "heartbeat"
    assert not agent.acceptance.busy


def test_step_never_waits_and_a_test_id_runs_once(
    server: FakeServer, make_agent: MakeAgent
) -> None:
    agent = make_agent()
    launcher = GatedLauncher()
    agent.launcher = launcher
    server.request_acceptance(7, [(1, "H100-SXM")])
    agent.step(0.0)  # returns while the burn-in runs
    assert launcher.running.wait(WAIT_S)
    assert agent.acceptance.busy
    agent.step(5.0)  # the server repeats its request: not started twice
    server.request_acceptance(8, [(3, "H100-SXM")])
    agent.step(10.0)  # another test while one runs: it waits for a later heartbeat
    assert launcher.started == [1]
    assert server.paths() == ["register", "heartbeat", "heartbeat", "heartbeat"]

    server.request_acceptance(7, [(1, "H100-SXM")])
    launcher.gate.set()
    finish(agent)
    agent.step(11.0)
    assert server.paths()[-1] == "acceptance/7"
    assert server.reports[7]["results"][0]["bf16_tflops"] == 800.0
    server.request_acceptance(7, [(1, "H100-SXM")])  # asked again, e.g. after a lost answer
    agent.step(15.0)
    assert not agent.acceptance.busy
    assert launcher.started == [1]


def test_a_report_waits_while_the_server_is_unreachable(
    server: FakeServer, make_agent: MakeAgent
) -> None:
    agent = make_agent()
    server.request_acceptance(7, [(0, "H100-SXM")])
    agent.step(0.0)
    finish(agent)
    server.down = True
    agent.step(1.0)  # logged, kept
    server.down = False
    agent.step(2.0)
    assert server.paths() == ["register", "heartbeat", "acceptance/7"]
    assert 7 in server.reports


@pytest.mark.parametrize("status", [404, 409, 422])
def test_a_refused_report_is_dropped(
    server: FakeServer, make_agent: MakeAgent, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    agent = make_agent()
    server.request_acceptance(7, [(0, "H100-SXM")])
    agent.step(0.0)
    finish(agent)
    server.refuse_acceptance = status
    agent.step(1.0)
    agent.step(2.0)
    assert server.paths() == ["register", "heartbeat", "acceptance/7"]
    assert f"acceptance test 7: server refused the report (POST /agent/acceptance/7: {status}" in (
        caplog.text
    )


def test_a_garbled_request_is_logged_and_starts_nothing(
    server: FakeServer, make_agent: MakeAgent, caplog: pytest.LogCaptureFixture
) -> None:
    agent = make_agent()
    server.acceptance = {"test": 7, "burn_in_s": 20.0, "gpus": [{"index": 0}]}
    agent.step(0.0)
    assert "Assignments.acceptance.gpus[0].model: expected a GPU model id" in caplog.text
    assert not agent.acceptance.busy


def test_shutdown_cancels_a_running_test_and_reports_nothing(server: FakeServer) -> None:
    agent = build_agent(
        config(),
        transport=server.transport,
        sleep=lambda _s: None,
        host=HostInfo(cpu_count=16, memory_gib=64.0),
    )
    launcher = GatedLauncher()
    agent.launcher = launcher
    server.request_acceptance(7, [(0, "H100-SXM"), (1, "H100-SXM")])
    agent.step(0.0)
    assert launcher.running.wait(WAIT_S)
    agent.shutdown()
    assert not agent.acceptance.busy
    assert sorted(launcher.killed) == [0, 1]
    assert agent.acceptance.finished() == []
    assert server.reports == {}


def test_faults_need_fake_gpus_and_sampling_a_positive_interval() -> None:
    with pytest.raises(ValueError, match="fake_faults needs fake_gpus"):
        config(fake_gpus=None, fake_faults="1=slow")
    with pytest.raises(ValueError, match="acceptance_sample_s must be > 0"):
        config(acceptance_sample_s=0)
