"""Who may do what: tokens, roles, projects, nodes."""

from __future__ import annotations

import pytest
from fleet_harness import Fleet


def test_health_needs_no_token_and_names_the_database(fleet: Fleet, database_url: str) -> None:
    answer = fleet.ok("GET", "/health", None)
    assert answer == {"status": "ok", "database": database_url.split("+", maxsplit=1)[0]}


@pytest.mark.parametrize("path", ["/jobs", "/nodes", "/projects", "/jobs/1"])
def test_no_token_or_an_unknown_one_is_401(fleet: Fleet, path: str) -> None:
    missing = fleet.get(path)
    assert missing.status_code == 401
    assert "bearer token" in missing.json()["detail"]
    assert missing.headers["www-authenticate"] == "Bearer"
    unknown = fleet.get(path, "not-a-token")
    assert (unknown.status_code, unknown.json()["detail"]) == (401, "unknown token")


def test_an_expired_token_is_401(fleet: Fleet) -> None:
    token = fleet.token("member", project="vision", ttl_s=60)
    assert fleet.get("/jobs", token).status_code == 200
    fleet.clock.advance(61)
    expired = fleet.get("/jobs", token)
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]


def test_tokens_are_stored_hashed_and_shown_once(fleet: Fleet) -> None:
    created = fleet.ok(
        "POST", "/tokens", fleet.admin, 201,
        json={"user": "ana", "role": "member", "project": "vision", "ttl_s": 3600},
    )  # fmt: skip
    assert created["user"] == "ana"
    assert created["project"] == "vision"
    assert created["expires_at"].startswith("2026-01-05T10:00:00")
    with fleet.db.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT token_sha256 FROM api_tokens").scalars().all()
    assert created["token"] not in stored
    assert len(stored) == 2  # the admin's and ana's


def test_token_rules(fleet: Fleet) -> None:
    member = fleet.token("member", project="vision")
    forbidden = fleet.post("/tokens", member, json={"user": "x", "role": "admin"})
    assert forbidden.status_code == 403
    no_project = fleet.post("/tokens", fleet.admin, json={"user": "x", "role": "member"})
    assert (no_project.status_code, no_project.json()["detail"]) == (
        400, "project: a member token needs a project",
    )  # fmt: skip
    no_node = fleet.post("/tokens", fleet.admin, json={"user": "x", "role": "agent"})
    assert no_node.status_code == 400
    assert no_node.json()["detail"].startswith("node:")
    bad_project = fleet.post(
        "/tokens", fleet.admin, json={"user": "x", "role": "member", "project": "nope"}
    )
    assert (bad_project.status_code, bad_project.json()["detail"]) == (
        400, "project: unknown project 'nope'",
    )  # fmt: skip


def test_members_stay_in_their_project(fleet: Fleet) -> None:
    fleet.project("audio")
    fleet.agent("node-a")
    vision = fleet.token("member", project="vision", user="vi")
    audio = fleet.token("member", project="audio", user="au")
    theirs = fleet.submit(audio, project="audio")
    mine = fleet.submit(vision)

    assert fleet.get(f"/jobs/{theirs['id']}", vision).status_code == 404
    assert fleet.post(f"/jobs/{theirs['id']}/cancel", vision).status_code == 404
    assert fleet.get(f"/jobs/{theirs['id']}/logs", vision).status_code == 404
    assert fleet.get("/jobs", vision, params={"project": "audio"}).status_code == 403
    assert [j["id"] for j in fleet.ok("GET", "/jobs", vision)] == [mine["id"]]
    into_other = fleet.post(
        "/jobs", vision, json={"project": "audio", "command": ["true"], "gpus": 1}
    )
    assert into_other.status_code == 403
    assert into_other.json()["detail"].startswith("project:")
    assert fleet.job(theirs["id"])["state"] == "pending"  # untouched
    # members read nodes and projects, but do not create projects or act as agents
    assert fleet.get("/nodes", vision).status_code == 200
    assert {p["name"] for p in fleet.ok("GET", "/projects", vision)} == {"audio", "vision"}
    assert fleet.post("/projects", vision, json={"name": "mine"}).status_code == 403
    assert fleet.post("/agent/heartbeat", vision, json={"node": "node-a"}).status_code == 403


def test_agents_act_only_as_their_node(fleet: Fleet) -> None:
    node = fleet.agent("node-a")
    fleet.agent("node-b")
    as_other = fleet.post("/agent/heartbeat", node.token, json={"node": "node-b"})
    assert as_other.status_code == 403
    assert "node-a" in as_other.json()["detail"]
    submit = fleet.post(
        "/jobs", node.token, json={"project": "vision", "command": ["true"], "gpus": 1}
    )
    assert submit.status_code == 403
    job = fleet.submit()
    fleet.tick()
    assert fleet.job(job["id"])["node"] == "node-a"  # first fit by name
    other = fleet.agent("node-c")
    refused = fleet.post(f"/agent/jobs/{job['id']}/started", other.token, json={})
    assert refused.status_code == 409
    assert f"job {job['id']} is not assigned to node 'node-c'" in refused.json()["detail"]
    finished = fleet.post(f"/agent/jobs/{job['id']}/finished", other.token, json={"exit_code": 0})
    assert finished.status_code == 409
    assert fleet.job(job["id"])["state"] == "scheduled"
