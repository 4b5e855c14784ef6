"""A fake control plane for agent tests: the ``/api/v1/agent/*`` half of ``docs/api.md``,
served through ``httpx.MockTransport`` and recording every call in order.

It keeps just enough state to answer like the real server: registered nodes, jobs scheduled on a
node (listed in ``start`` until reported ``started``), stop requests (listed in ``stop`` while
the node reports the job running), appended log lines and exits, and acceptance tests (listed in
every heartbeat answer until a report arrives, then judged with ``domain.acceptance.judge``).
Switches simulate trouble: ``down`` (connection refused), ``refuse_next_heartbeat`` (404 or 409
once, forgetting the node), ``refuse_started`` (409 for those job ids), ``refuse_acceptance``
(that status for acceptance reports).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from gpufleet.agent.agent import NodeAgent, build_agent
from gpufleet.agent.config import AgentConfig
from gpufleet.agent.messages import HostInfo
from gpufleet.catalog.gpus import gpu_table
from gpufleet.domain.acceptance import check_from_json, judge

TOKEN = "agent-token-for-tests"  # noqa: S105 - not a secret
PREFIX = "/api/v1"


@dataclass
class Call:
    path: str
    body: dict[str, Any]
    status: int


@dataclass
class FakeJob:
    id: int
    node: str
    command: list[str]
    gpu_indices: list[int]
    env: dict[str, str] = field(default_factory=dict)
    state: str = "scheduled"
    stop_requested: bool = False
    lines: list[str] = field(default_factory=list)
    exit_code: int | None = None
    stopped: bool | None = None


class FakeServer:
    def __init__(self, *, heartbeat_s: float | None = None) -> None:
        self.calls: list[Call] = []
        self.nodes: dict[str, dict[str, Any]] = {}
        self.jobs: dict[int, FakeJob] = {}
        self.heartbeat_s = heartbeat_s
        self.down = False
        self.refuse_next_heartbeat: int | None = None
        self.refuse_started: set[int] = set()
        self.acceptance: dict[str, Any] | None = None
        """The ``AcceptanceRequest`` listed in heartbeat answers until it is reported."""
        self.refuse_acceptance: int | None = None
        self.reports: dict[int, dict[str, Any]] = {}
        self.transport = httpx.MockTransport(self.handle)

    # ------------------------------------------------------------------ test controls
    def schedule(
        self,
        job_id: int,
        command: list[str],
        gpu_indices: list[int],
        *,
        node: str = "node-a",
        env: dict[str, str] | None = None,
    ) -> FakeJob:
        job = FakeJob(job_id, node, command, gpu_indices, env or {})
        self.jobs[job_id] = job
        return job

    def request_acceptance(
        self, test: int, gpus: list[tuple[int, str]], *, burn_in_s: float = 20.0
    ) -> None:
        """Ask for acceptance test ``test`` of ``(index, model)`` GPUs."""
        self.acceptance = {
            "test": test,
            "burn_in_s": burn_in_s,
            "gpus": [
                {"index": i, "model": m, "memory_gib": gpu_table().get(m).memory_gib}
                for i, m in gpus
            ],
        }

    def request_stop(self, job_id: int) -> None:
        self.jobs[job_id].stop_requested = True

    def paths(self) -> list[str]:
        """The calls so far, as ``register``, ``heartbeat``, ``7/started`` ..."""
        return [c.path.removeprefix(f"{PREFIX}/agent/").removeprefix("jobs/") for c in self.calls]

    def bodies(self, suffix: str) -> list[dict[str, Any]]:
        return [c.body for c in self.calls if c.path.endswith(suffix)]

    # ------------------------------------------------------------------ HTTP
    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        body = json.loads(request.content or b"{}")
        status, answer = self._route(request, body)
        self.calls.append(Call(request.url.path, body, status))
        return httpx.Response(status, json=answer)

    def _route(self, request: httpx.Request, body: dict[str, Any]) -> tuple[int, Any]:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {"detail": "unknown token"}
        path = request.url.path.removeprefix(PREFIX)
        if request.method != "POST" or not path.startswith("/agent/"):
            return 404, {"detail": f"no route {path}"}
        if path == "/agent/register":
            return self._register(body)
        if path == "/agent/heartbeat":
            return self._heartbeat(body)
        if path.startswith("/agent/acceptance/"):
            return self._acceptance(int(path.rsplit("/", 1)[1]), body)
        _, _, job_id, action = path.strip("/").split("/")
        job = self.jobs.get(int(job_id))
        if job is None:
            return 404, {"detail": f"unknown job {job_id}"}
        return getattr(self, f"_{action}")(job, body)

    def _register(self, body: dict[str, Any]) -> tuple[int, Any]:
        self.nodes[body["name"]] = body
        node = {"id": len(self.nodes), "name": body["name"], "state": "up"}
        return 200, node | {"simulated": body["simulated"], "gpus": body["gpus"]}

    def _heartbeat(self, body: dict[str, Any]) -> tuple[int, Any]:
        node = body["node"]
        if self.refuse_next_heartbeat is not None:
            status, self.refuse_next_heartbeat = self.refuse_next_heartbeat, None
            self.nodes.pop(node, None)
            return status, {"detail": f"node {node} is unknown or lost"}
        if node not in self.nodes:
            return 404, {"detail": f"unknown node {node}"}
        running = set(body["running"])
        start = [
            {"job": j.id, "command": j.command, "gpu_indices": j.gpu_indices, "env": j.env}
            for j in self.jobs.values()
            if j.node == node and j.state == "scheduled"
        ]
        stop = [j.id for j in self.jobs.values() if j.stop_requested and j.id in running]
        answer: dict[str, Any] = {"start": start, "stop": stop, "heartbeat_s": self.heartbeat_s}
        if self.acceptance is not None:
            answer["acceptance"] = self.acceptance
        return 200, answer

    def _acceptance(self, test: int, body: dict[str, Any]) -> tuple[int, Any]:
        if self.refuse_acceptance is not None:
            return self.refuse_acceptance, {"detail": f"test {test} is not this node's"}
        if self.acceptance is None or self.acceptance["test"] != test:
            return 404, {"detail": f"unknown acceptance test {test}"}
        promised = {g["index"]: g["model"] for g in self.acceptance["gpus"]}
        verdicts = []
        for result in body["results"]:
            verdict = judge(check_from_json(result), gpu_table().get(promised[result["index"]]))
            verdicts.append(
                {"index": verdict.index, "passed": verdict.passed, "reasons": list(verdict.reasons)}
            )
        self.reports[test] = body
        self.acceptance = None
        state = "up" if all(v["passed"] for v in verdicts) else "quarantined"
        return 200, {"test": test, "node_state": state, "gpus": verdicts}

    def _started(self, job: FakeJob, body: dict[str, Any]) -> tuple[int, Any]:
        if job.state != "scheduled" or job.id in self.refuse_started:
            return 409, {"detail": f"job {job.id} is {job.state}, not scheduled here"}
        job.state = "running"
        return 200, {"id": job.id, "state": job.state}

    def _logs(self, job: FakeJob, body: dict[str, Any]) -> tuple[int, Any]:
        job.lines.extend(body["lines"])
        return 200, {}

    def _finished(self, job: FakeJob, body: dict[str, Any]) -> tuple[int, Any]:
        if job.state != "running":
            return 409, {"detail": f"job {job.id} is {job.state}"}
        job.exit_code = body["exit_code"]
        job.stopped = body["stopped"]
        if job.stopped:
            job.state = "cancelled"
        else:
            job.state = "succeeded" if job.exit_code == 0 else "failed"
        return 200, {"id": job.id, "state": job.state}


# ---------------------------------------------------------------------- agents against it

MakeAgent = Callable[..., NodeAgent]
AGENT_DEFAULTS: dict[str, Any] = {
    "server_url": "http://control:8000",
    "token": TOKEN,
    "name": "node-a",
    "fake_gpus": "4xH100-SXM",
    "heartbeat_s": 5.0,
}


@contextmanager
def agents_on(server: FakeServer, config: Callable[..., AgentConfig]) -> Iterator[MakeAgent]:
    """``make(**overrides)`` builds real agents (``config(**overrides)``) talking to ``server``,
    never sleeping; every agent made is shut down on exit."""
    agents: list[NodeAgent] = []

    def make(**overrides: Any) -> NodeAgent:
        agent = build_agent(
            config(**overrides),
            transport=server.transport,
            sleep=lambda _s: None,
            host=HostInfo(cpu_count=16, memory_gib=64.0),
        )
        agents.append(agent)
        return agent

    try:
        yield make
    finally:
        for agent in agents:
            agent.shutdown()
