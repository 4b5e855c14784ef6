"""The HTTP client: bearer token, clear auth errors, retries only where the server cannot have
acted, and a strict reading of the assignments."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from gpufleet.agent.client import (
    AgentClient,
    ApiError,
    AuthError,
    ConflictError,
    NotFoundError,
    ServerUnavailableError,
)
from gpufleet.agent.gpu_source import GpuTelemetry
from gpufleet.agent.messages import (
    Assignments,
    JobStart,
    MessageError,
    heartbeat_body,
    parse_assignments,
)

Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler, slept: list[float] | None = None, **options: float) -> AgentClient:
    sleeps = slept if slept is not None else []
    return AgentClient(
        "http://control:8000/",
        "t0k3n",
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        **options,  # type: ignore[arg-type]
    )


def test_requests_carry_the_token_and_go_under_api_v1() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": 1, "state": "running"})

    api = client(handler)
    assert api.started(17) == {"id": 1, "state": "running"}
    api.logs(17, ["a", "b"])
    api.finished(17, 3, stopped=True)
    assert [r.url.path for r in seen] == [
        "/api/v1/agent/jobs/17/started",
        "/api/v1/agent/jobs/17/logs",
        "/api/v1/agent/jobs/17/finished",
    ]
    assert {r.headers["Authorization"] for r in seen} == {"Bearer t0k3n"}
    assert [json.loads(r.content) for r in seen] == [
        {},
        {"lines": ["a", "b"]},
        {"exit_code": 3, "stopped": True},
    ]


def test_a_server_url_with_the_prefix_is_not_prefixed_twice() -> None:
    api = AgentClient("https://c.example/api/v1", "t")
    assert api.base_url == "https://c.example/api/v1"
    api.close()


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, AuthError, "rejected the agent token \\(401\\).*expired"),
        (403, AuthError, "not allowed.*\\(403\\)"),
        (404, NotFoundError, "404 expired"),
        (409, ConflictError, "409 expired"),
        (400, ApiError, "400 expired"),
    ],
)
def test_refusals_raise_clear_errors_without_retrying(
    status: int, error: type[Exception], words: str
) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(status, json={"detail": "expired"})

    slept: list[float] = []
    with pytest.raises(error, match=words) as caught:
        client(handler, slept).register({"name": "n"})
    assert isinstance(caught.value, ApiError)
    assert caught.value.status == status
    assert (len(calls), slept) == (1, [])


def test_connection_errors_are_retried_with_backoff_then_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    slept: list[float] = []
    with pytest.raises(ServerUnavailableError, match="cannot connect"):
        client(handler, slept, retries=4, backoff_s=0.5, backoff_max_s=1.5).register({})
    assert slept == [0.5, 1.0, 1.5, 1.5]


def test_a_retry_that_gets_through_returns_the_answer() -> None:
    answers = iter([503, 502, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers), json={"start": [], "stop": [], "heartbeat_s": 2})

    slept: list[float] = []
    assert client(handler, slept).heartbeat({}) == Assignments(heartbeat_s=2.0)
    assert slept == [0.5, 1.0]


def test_a_read_timeout_is_not_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ServerUnavailableError, match="ReadTimeout"):
        client(handler).logs(1, ["x"])
    assert calls == [1]


def test_assignments_are_read_strictly() -> None:
    data = {
        "start": [{"job": 5, "command": ["python", "t.py"], "gpu_indices": [0, 2], "env": {}}],
        "stop": [3, "j-9"],
        "heartbeat_s": 5,
    }
    assert parse_assignments(data) == Assignments(
        start=(JobStart(5, ("python", "t.py"), (0, 2), {}),), stop=(3, "j-9"), heartbeat_s=5.0
    )
    assert parse_assignments({}) == Assignments()
    for bad, field in [
        ([], "expected an object"),
        ({"start": [{"job": 1, "command": "python t.py"}]}, r"start\[0\].command"),
        ({"start": [{"job": 1, "command": [], "gpu_indices": [-1]}]}, "gpu_indices"),
        ({"start": [{"command": []}]}, r"start\[0\].job"),
        ({"stop": [True]}, r"stop\[0\]"),
        ({"heartbeat_s": 0}, "heartbeat_s"),
    ]:
        with pytest.raises(MessageError, match=field):
            parse_assignments(bad)


def test_job_ids_are_escaped_in_paths() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, json={})

    client(handler).started("a/b c")
    assert seen == ["/api/v1/agent/jobs/a%2Fb%20c/started"]


def test_error_counters_go_out_only_when_asked_for() -> None:
    sample = GpuTelemetry(0, 90.0, 40.0, 70.0, 500.0, ecc_errors=2, xid_errors=1, last_xid=79)
    plain = heartbeat_body("n", [sample], [3])
    assert plain == {
        "node": "n",
        "telemetry": [
            {
                "index": 0,
                "utilisation_pct": 90.0,
                "memory_used_gib": 40.0,
                "temperature_c": 70.0,
                "power_w": 500.0,
            }
        ],
        "running": [3],
    }
    extended = heartbeat_body("n", [sample], [3], error_counters=True)["telemetry"][0]
    assert (extended["ecc_errors"], extended["xid_errors"], extended["last_xid"]) == (2, 1, 79)
