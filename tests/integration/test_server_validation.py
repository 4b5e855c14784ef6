"""Bad input is answered with a 4xx naming the field, and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
from fleet_harness import Fleet

JOB = {"project": "vision", "command": ["python", "train.py"], "gpus": 1}


def nothing_stored(fleet: Fleet) -> None:
    assert fleet.jobs() == []
    assert fleet.events("job.submitted") == []


@pytest.fixture
def with_node(fleet: Fleet) -> Fleet:
    fleet.agent("node-a", gpus=8)
    return fleet


def test_an_unknown_gpu_model_is_400_with_suggestions(with_node: Fleet) -> None:
    answer = with_node.post("/jobs", with_node.admin, json={**JOB, "gpu_models": ["H1000"]})
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert detail.startswith("gpu_models: unknown GPU model 'H1000'")
    assert "Did you mean" in detail
    nothing_stored(with_node)


@pytest.mark.parametrize("gpus", [0, -2])
def test_gpus_below_one_is_422_naming_the_field(with_node: Fleet, gpus: int) -> None:
    answer = with_node.post("/jobs", with_node.admin, json={**JOB, "gpus": gpus})
    assert answer.status_code == 422
    [error] = answer.json()["detail"]
    assert error["loc"] == ["body", "gpus"]
    nothing_stored(with_node)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"command": []}, "command"),
        ({"command": ["python", ""]}, "command"),
        ({"gpus": "two"}, "gpus"),
        ({"gpu": 2}, "gpu"),  # a typo is an error, not silently ignored
        ({"project": None}, "project"),
    ],
)
def test_schema_errors_name_the_field(with_node: Fleet, change: dict[str, Any], field: str) -> None:
    answer = with_node.post("/jobs", with_node.admin, json={**JOB, **change})
    assert answer.status_code == 422
    assert field in {str(part) for error in answer.json()["detail"] for part in error["loc"]}
    nothing_stored(with_node)


def test_a_gang_larger_than_any_node_is_400(with_node: Fleet) -> None:
    with_node.agent("node-b", gpus=4, model="A100-80GB")
    too_big = with_node.post("/jobs", with_node.admin, json={**JOB, "gpus": 9})
    assert too_big.status_code == 400
    assert too_big.json()["detail"].startswith("gpus: 9 GPUs asked for, but the largest node has 8")
    a100 = with_node.post(
        "/jobs", with_node.admin, json={**JOB, "gpus": 5, "gpu_models": ["A100-80GB"]}
    )
    assert a100.status_code == 400
    assert "largest node has 4 of A100-80GB" in a100.json()["detail"]
    nothing_stored(with_node)


def test_no_node_yet_means_no_gang_fits(fleet: Fleet) -> None:
    answer = fleet.post("/jobs", fleet.admin, json=JOB)
    assert answer.status_code == 400
    assert "largest node has 0" in answer.json()["detail"]


def test_an_unknown_project_is_400(with_node: Fleet) -> None:
    answer = with_node.post("/jobs", with_node.admin, json={**JOB, "project": "nope"})
    assert (answer.status_code, answer.json()["detail"]) == (400, "project: unknown project 'nope'")
    nothing_stored(with_node)


def test_malformed_json_is_422(with_node: Fleet) -> None:
    answer = with_node.post(
        "/jobs", with_node.admin, content=b'{"project": "vision", "gpus": ',
        headers={"content-type": "application/json"},
    )  # fmt: skip
    assert answer.status_code == 422
    [error] = answer.json()["detail"]
    assert error["type"] == "json_invalid"
    assert error["loc"][0] == "body"
    nothing_stored(with_node)


def test_project_rules(fleet: Fleet) -> None:
    unknown = fleet.post("/projects", fleet.admin, json={"name": "p", "quota": {"Z9": 1}})
    assert unknown.status_code == 400
    assert unknown.json()["detail"].startswith("quota: unknown GPU model 'Z9'")
    family = fleet.post("/projects", fleet.admin, json={"name": "p", "quota": {"A100": 1}})
    assert family.status_code == 400
    assert "name one model" in family.json()["detail"]
    negative = fleet.post("/projects", fleet.admin, json={"name": "p", "quota": {"A100-80GB": -1}})
    assert negative.status_code == 422
    duplicate = fleet.post("/projects", fleet.admin, json={"name": "vision"})
    assert (duplicate.status_code, duplicate.json()["detail"]) == (
        409, "name: project 'vision' already exists",
    )  # fmt: skip
    assert [p["name"] for p in fleet.ok("GET", "/projects", fleet.admin)] == ["vision"]
    created = fleet.project("nlp", quota={"a100 sxm4 80gb": 4}, budget_usd=1000, weight=2)
    assert created == {
        "name": "nlp", "quota": {"A100-80GB": 4}, "budget_usd": 1000.0, "weight": 2.0,
        "running_gpus": 0, "pending_jobs": 0,
    }  # fmt: skip


def test_list_filters_are_validated(fleet: Fleet) -> None:
    assert fleet.get("/jobs", fleet.admin, params={"state": "sleeping"}).status_code == 422
    assert fleet.get("/jobs", fleet.admin, params={"limit": 0}).status_code == 422
    assert fleet.get("/jobs/999", fleet.admin).status_code == 404
    assert fleet.get("/jobs/999/logs", fleet.admin).status_code == 404


# What the database cannot hold is a 422 naming the field, never a 500 (found by schemathesis,
# test_server_schemathesis.py): integers past an Integer column's 32 bits, text with NUL (which
# PostgreSQL refuses), and text that UTF-8 cannot encode (lone surrogates) quoted in an answer.
TOO_BIG = [2**31, 2**63]


def field_named(answer: Any, *loc: str | int) -> None:
    assert answer.status_code == 422, answer.text
    assert [tuple(e["loc"]) for e in answer.json()["detail"]] == [loc]


@pytest.mark.parametrize("job_id", TOO_BIG)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/jobs/{}"),
        ("POST", "/jobs/{}/cancel"),
        ("GET", "/jobs/{}/logs"),
        ("POST", "/agent/jobs/{}/started"),
        ("POST", "/agent/jobs/{}/finished"),
        ("POST", "/agent/jobs/{}/logs"),
    ],
)
def test_a_job_id_past_32_bits_is_422(fleet: Fleet, method: str, path: str, job_id: int) -> None:
    body = {"exit_code": 0} if path.endswith("finished") else {"lines": ["x"]}
    answer = fleet.request(method, path.format(job_id), fleet.admin, json=body)
    field_named(answer, "path", "job_id")


@pytest.mark.parametrize("big", TOO_BIG)
def test_integers_past_32_bits_are_422_naming_the_field(with_node: Fleet, big: int) -> None:
    fleet = with_node
    field_named(fleet.post("/jobs", fleet.admin, json={**JOB, "priority": big}), "body", "priority")
    quota = {"name": "p", "quota": {"H100-SXM": big}}
    field_named(fleet.post("/projects", fleet.admin, json=quota), "body", "quota", "H100-SXM")
    token = {"user": "u", "role": "admin", "ttl_s": big * 2**32}  # past any representable date
    field_named(fleet.post("/tokens", fleet.admin, json=token), "body", "ttl_s")
    gpu = {"index": big, "model": "H100", "memory_gib": 80}
    node = {"name": "node-a", "gpus": [gpu]}
    field_named(fleet.post("/agent/register", fleet.admin, json=node), "body", "gpus", 0, "index")
    node = {"name": "node-a", "cpu_count": big}
    field_named(fleet.post("/agent/register", fleet.admin, json=node), "body", "cpu_count")
    job = fleet.submit()
    answer = fleet.post(f"/agent/jobs/{job['id']}/finished", fleet.admin, json={"exit_code": big})
    field_named(answer, "body", "exit_code")
    logs = fleet.get(f"/jobs/{job['id']}/logs", fleet.admin, params={"after": big})
    field_named(logs, "query", "after")


def test_text_with_nul_is_422_naming_the_field(with_node: Fleet) -> None:
    fleet = with_node
    token = {"user": "a\x00b", "role": "admin"}
    field_named(fleet.post("/tokens", fleet.admin, json=token), "body", "user")
    for field, value in [("name", "a\x00b"), ("command", ["python", "a\x00b"])]:
        answer = fleet.post("/jobs", fleet.admin, json={**JOB, field: value})
        field_named(answer, "body", field, *([1] if field == "command" else []))
    field_named(fleet.get("/jobs", fleet.admin, params={"project": "a\x00b"}), "query", "project")
    for gpu_field in ("model", "uuid"):
        gpu = {"index": 0, "model": "H100", "memory_gib": 80, gpu_field: "a\x00b"}
        node = {"name": "node-a", "gpus": [gpu]}
        answer = fleet.post("/agent/register", fleet.admin, json=node)
        field_named(answer, "body", "gpus", 0, gpu_field)
    node = {"name": "a\x00b", "gpus": []}
    field_named(fleet.post("/agent/register", fleet.admin, json=node), "body", "name")
    field_named(
        fleet.post("/agent/heartbeat", fleet.admin, json={"node": "a\x00b"}), "body", "node"
    )
    nothing_stored(fleet)


def test_a_lone_surrogate_is_422_quoted_as_a_replacement_character(with_node: Fleet) -> None:
    body = b'{"project": "vision", "command": ["x"], "name": "\\ud800"}'
    headers = {"content-type": "application/json"}
    answer = with_node.post("/jobs", with_node.admin, content=body, headers=headers)
    field_named(answer, "body", "name")
    assert answer.json()["detail"][0]["input"] == "\ufffd"
    nothing_stored(with_node)
