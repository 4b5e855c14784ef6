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
