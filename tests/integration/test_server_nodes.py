"""Nodes: registration, heartbeats and telemetry, loss and return."""

from __future__ import annotations

from fleet_harness import Fleet


def test_register_is_idempotent_per_name(fleet: Fleet) -> None:
    node = fleet.agent("node-a", gpus=2)
    node.register(gpus=4)
    [listed] = fleet.ok("GET", "/nodes", fleet.admin)
    assert listed["name"] == "node-a"
    assert listed["state"] == "up"
    assert listed["simulated"] is True
    assert [g["index"] for g in listed["gpus"]] == [0, 1, 2, 3]
    node.register(gpus=1)
    [listed] = fleet.ok("GET", "/nodes", fleet.admin)
    assert [g["index"] for g in listed["gpus"]] == [0]
    repeated = fleet.post(
        "/agent/register", node.token,
        json={"name": "node-a", "gpus": [{"index": 0, "model": "H100", "memory_gib": 80}] * 2},
    )  # fmt: skip
    assert repeated.status_code == 400
    assert repeated.json()["detail"].startswith("gpus: GPU indices repeat")


def test_an_unknown_gpu_name_is_kept_as_reported(fleet: Fleet) -> None:
    node = fleet.agent("node-a", gpus=1, model="Mystery Accelerator 9000")
    assert node.register(gpus=1, model="Mystery Accelerator 9000")["gpus"][0]["model"] == (
        "Mystery Accelerator 9000"
    )
    job = fleet.submit()  # a job that allows any model can still run there
    assert fleet.tick().scheduled == (job["id"],)


def test_a_heartbeat_from_an_unregistered_node_is_404(fleet: Fleet) -> None:
    token = fleet.token("agent", node="node-x")
    answer = fleet.post("/agent/heartbeat", token, json={"node": "node-x"})
    assert answer.status_code == 404
    assert "register" in answer.json()["detail"]


def test_telemetry_shows_in_nodes_and_metrics(fleet: Fleet) -> None:
    node = fleet.agent("node-a", gpus=2)
    sample = {"utilisation_pct": 87.5, "memory_used_gib": 40.0, "temperature_c": 66, "power_w": 512}
    node.heartbeat(telemetry=[{"index": 1, **sample}, {"index": 7, **sample}])
    [listed] = fleet.ok("GET", "/nodes", fleet.admin)
    assert listed["gpus"][1]["utilisation_pct"] == 87.5
    assert listed["gpus"][1]["power_w"] == 512
    assert listed["gpus"][0]["utilisation_pct"] is None
    fleet.submit(gpus=1)
    fleet.submit(gpus=2)
    fleet.tick()
    text = fleet.get("/metrics").text
    assert "gpufleet_queue_length 1.0" in text
    assert 'gpufleet_allocated_gpus{model="H100-SXM"} 1.0' in text
    assert 'gpufleet_gpu_utilisation_pct{index="1",model="H100-SXM",node="node-a"} 87.5' in text
    assert 'gpufleet_gpu_power_w{index="1",model="H100-SXM",node="node-a"} 512.0' in text
    assert "gpufleet_scheduler_tick_seconds_count 1.0" in text


def test_a_lost_node_requeues_its_jobs_and_comes_back(fleet: Fleet) -> None:
    a = fleet.agent("node-a", gpus=2)
    b = fleet.agent("node-b", gpus=2)
    running = fleet.submit(gpus=2, name="runs")
    scheduled = fleet.submit(gpus=2, name="scheduled")
    fleet.tick()
    a.start_assigned()  # "runs" on node-a; "scheduled" waits on node-b, never started
    assert fleet.job(scheduled["id"])["node"] == "node-b"

    fleet.clock.advance(14)
    a.heartbeat()
    assert fleet.check_lost() == []  # b: 14 s < 3 x 5 s
    fleet.clock.advance(2)
    assert fleet.check_lost() == ["node-b"]
    assert fleet.check_lost() == []  # nothing more the second time
    assert [n["state"] for n in fleet.ok("GET", "/nodes", fleet.admin)] == ["up", "lost"]
    requeued = fleet.job(scheduled["id"])
    assert (requeued["state"], requeued["attempts"], requeued["node"]) == ("pending", 1, None)

    fleet.clock.advance(14)  # 16 s since node-a's last heartbeat
    assert fleet.check_lost() == ["node-a"]
    assert fleet.job(running["id"])["state"] == "pending"
    assert fleet.tick().scheduled == ()  # no node is up
    kinds = [kind for kind, _, _ in fleet.events()]
    assert kinds.count("node.lost") == 2
    assert kinds.count("job.requeued") == 2

    # node-a's agent was only cut off: it still runs the job, which now is not its own
    answer = a.heartbeat()
    assert answer["stop"] == [running["id"]]
    assert answer["start"] == []
    assert fleet.ok("GET", "/nodes", fleet.admin)[0]["state"] == "up"
    a.running.discard(running["id"])  # it stopped the job as told
    stale = fleet.post(
        f"/agent/jobs/{running['id']}/finished", a.token, json={"exit_code": -15, "stopped": True}
    )
    assert stale.status_code == 409  # it is pending, not on node-a any more
    b.register(gpus=2)
    report = fleet.tick()
    assert set(report.scheduled) == {running["id"], scheduled["id"]}
    again = fleet.job(running["id"])
    assert again["attempts"] == 1
    assert again["state"] == "scheduled"


def test_a_lost_node_cancels_jobs_whose_cancel_was_requested(fleet: Fleet) -> None:
    node = fleet.agent("node-a")
    job = fleet.submit()
    fleet.tick()
    node.start_assigned()
    fleet.ok("POST", f"/jobs/{job['id']}/cancel", fleet.admin)
    fleet.clock.advance(16)
    assert fleet.check_lost() == ["node-a"]
    assert fleet.job(job["id"])["state"] == "cancelled"


def test_a_lost_started_report_is_recovered_from_the_heartbeat(fleet: Fleet) -> None:
    node = fleet.agent("node-a")
    job = fleet.submit()
    fleet.tick()
    node.heartbeat()
    node.running.add(job["id"])  # started it, but the "started" call never arrived
    node.heartbeat()
    assert fleet.job(job["id"])["state"] == "running"
    assert node.finish(job["id"], 0)["state"] == "succeeded"


def test_a_running_job_its_agent_forgot_goes_back_to_pending(fleet: Fleet) -> None:
    node = fleet.agent("node-a")
    job = fleet.submit()
    fleet.tick()
    node.start_assigned()
    node.running.clear()  # the agent restarted and lost the process
    fleet.clock.advance(10)
    node.heartbeat()
    assert fleet.job(job["id"])["state"] == "running"  # not yet: a report may be late
    fleet.clock.advance(6)
    assert node.heartbeat()["start"] == []
    back = fleet.job(job["id"])
    assert (back["state"], back["attempts"], back["node"]) == ("pending", 1, None)
    assert fleet.tick().scheduled == (job["id"],)
    assert [s["job"] for s in node.heartbeat()["start"]] == [job["id"]]


def test_a_running_job_reported_in_heartbeats_is_never_forgotten(fleet: Fleet) -> None:
    node = fleet.agent("node-a")
    job = fleet.submit()
    fleet.tick()
    node.start_assigned()
    for _ in range(10):
        fleet.clock.advance(5)
        node.heartbeat()
    assert fleet.job(job["id"])["state"] == "running"
