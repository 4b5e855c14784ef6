"""The acceptance half of the wire format: the heartbeat answer's ``acceptance`` and the
``AcceptanceVerdict`` are read strictly, the ``AcceptanceReport`` is built from the checks, and
the client posts it to ``/agent/acceptance/{test}``."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from gpufleet.agent.client import AgentClient
from gpufleet.agent.messages import (
    AcceptanceGpu,
    AcceptanceRequest,
    AcceptanceVerdict,
    GpuVerdict,
    MessageError,
    acceptance_body,
    parse_assignments,
    parse_verdict,
)
from gpufleet.domain.acceptance import BurnIn, GpuCheck

REQUEST = {
    "test": 7,
    "burn_in_s": 20,
    "gpus": [{"index": 0, "model": "H100-SXM", "memory_gib": 80}, {"index": 3, "model": "H200"}],
}


def test_an_acceptance_request_is_read() -> None:
    assignments = parse_assignments({"start": [], "stop": [], "acceptance": REQUEST})
    assert assignments.acceptance == AcceptanceRequest(
        test=7,
        burn_in_s=20.0,
        gpus=(AcceptanceGpu(0, "H100-SXM", 80.0), AcceptanceGpu(3, "H200", None)),
    )
    assert parse_assignments({"acceptance": None}).acceptance is None
    assert parse_assignments({}).acceptance is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"acceptance": [1]}, r"Assignments.acceptance: expected an object or null"),
        ({"test": "7"}, r"Assignments.acceptance.test: expected an integer"),
        ({"test": True}, r"Assignments.acceptance.test: expected an integer"),
        ({"burn_in_s": "20"}, r"Assignments.acceptance.burn_in_s: expected a number"),
        ({"burn_in_s": -1}, r"Assignments.acceptance.burn_in_s: must be >= 0"),
        ({"gpus": []}, r"Assignments.acceptance.gpus: expected a non-empty list"),
        ({"gpus": [7]}, r"Assignments.acceptance.gpus\[0\]: expected an object"),
        ({"gpus": [{"index": -1, "model": "H200"}]}, r"gpus\[0\].index: expected a GPU index"),
        ({"gpus": [{"index": 0, "model": ""}]}, r"gpus\[0\].model: expected a GPU model id"),
        ({"gpus": [{"index": 0, "model": "H200", "memory_gib": 0}]}, r"gpus\[0\].memory_gib"),
        (
            {"gpus": [{"index": 1, "model": "H200"}, {"index": 1, "model": "H200"}]},
            r"Assignments.acceptance.gpus: GPU indices repeat: \[1, 1\]",
        ),
    ],
)
def test_a_bad_acceptance_request_names_the_field(change: dict[str, Any], message: str) -> None:
    body = change if "acceptance" in change else {"acceptance": REQUEST | change}
    with pytest.raises(MessageError, match=message):
        parse_assignments(body)


def test_verdicts_are_read_strictly() -> None:
    answer = {
        "test": 7,
        "node_state": "up",
        "gpus": [{"index": 0, "passed": True, "reasons": []}, {"index": 3, "passed": False}],
    }
    assert parse_verdict(answer) == AcceptanceVerdict(
        7, "up", (GpuVerdict(0, True, ()), GpuVerdict(3, False, ()))
    )
    for bad, message in [
        ([], "AcceptanceVerdict: expected an object"),
        (answer | {"test": None}, "AcceptanceVerdict.test: expected an integer"),
        (answer | {"node_state": 1}, "AcceptanceVerdict.node_state: expected a string"),
        (answer | {"gpus": {}}, "AcceptanceVerdict.gpus: expected a list"),
        (answer | {"gpus": [{"index": 0, "passed": "yes"}]}, r"gpus\[0\].passed: expected true"),
        (answer | {"gpus": [{"index": 0, "passed": True, "reasons": [1]}]}, r"gpus\[0\].reasons"),
    ]:
        with pytest.raises(MessageError, match=message):
            parse_verdict(bad)


def test_the_report_is_posted_to_the_tests_path() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"test": 7, "node_state": "up", "gpus": []})

    check = GpuCheck(
        index=0,
        name="NVIDIA H200",
        model="H200",
        memory_gib=140.4,
        uuid="GPU-1",
        ecc_errors=0,
        xid_errors=None,
        max_temperature_c=70.0,
        max_power_w=650.0,
        burn_in=BurnIn.SKIPPED,
        bf16_tflops=None,
        memory_bandwidth_gbps=None,
        detail="PyTorch not installed",
    )
    api = AgentClient("http://control:8000", "t0k3n", transport=httpx.MockTransport(handler))
    answer = api.acceptance(7, acceptance_body("node-a", [check]))
    assert answer["node_state"] == "up"
    assert seen[0].url.path == "/api/v1/agent/acceptance/7"
    body = json.loads(seen[0].content)
    assert body["node"] == "node-a"
    assert body["results"][0] | {"uuid": None} == {
        "index": 0,
        "name": "NVIDIA H200",
        "model": "H200",
        "memory_gib": 140.4,
        "uuid": None,
        "ecc_errors": 0,
        "xid_errors": None,
        "max_temperature_c": 70.0,
        "max_power_w": 650.0,
        "burn_in": "skipped",
        "bf16_tflops": None,
        "memory_bandwidth_gbps": None,
        "detail": "PyTorch not installed",
    }
