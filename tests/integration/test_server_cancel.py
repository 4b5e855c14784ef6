"""Cancelling: at once while pending; through the agent once the job holds GPUs."""

from __future__ import annotations

from fleet_harness import Fleet


def test_a_pending_job_is_cancelled_at_once(fleet: Fleet) -> None:
    fleet.agent("node-a")
    member = fleet.token("member", project="vision")
    job = fleet.submit(member)
    cancelled = fleet.ok("POST", f"/jobs/{job['id']}/cancel", member)
    assert cancelled["state"] == "cancelled"
    assert cancelled["finished_at"] is not None
    assert fleet.tick().scheduled == ()
    again = fleet.post(f"/jobs/{job['id']}/cancel", member)
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"job {job['id']}: a cancelled job cannot become cancelled (allowed: none (final))"
    )


def test_a_running_job_is_stopped_by_its_agent_then_cancelled(fleet: Fleet) -> None:
    node = fleet.agent("node-a", gpus=2)
    job = fleet.submit(gpus=2)
    waiting = fleet.submit(gpus=2)
    fleet.tick()
    node.start_assigned()
    marked = fleet.ok("POST", f"/jobs/{job['id']}/cancel", fleet.admin)
    assert marked["state"] == "running"  # marked; the agent stops it
    assert fleet.ok("POST", f"/jobs/{job['id']}/cancel", fleet.admin)["state"] == "running"
    assert node.heartbeat()["stop"] == [job["id"]]
    assert fleet.tick().scheduled == ()  # its GPUs are held until the agent reports
    done = node.finish(job["id"], -15, stopped=True)
    assert done["state"] == "cancelled"
    assert node.heartbeat()["stop"] == []
    assert fleet.tick().scheduled == (waiting["id"],)


def test_a_scheduled_job_never_started_is_cancelled_at_the_next_heartbeat(fleet: Fleet) -> None:
    node = fleet.agent("node-a", gpus=2)
    job = fleet.submit(gpus=2)
    fleet.tick()
    assert fleet.ok("POST", f"/jobs/{job['id']}/cancel", fleet.admin)["state"] == "scheduled"
    answer = node.heartbeat()
    assert answer["start"] == []
    assert answer["stop"] == []
    assert fleet.job(job["id"])["state"] == "cancelled"
    late = fleet.post(f"/agent/jobs/{job['id']}/started", node.token, json={})
    assert late.status_code == 409  # the agent must not run it now


def test_a_job_that_ends_on_its_own_keeps_its_exit_code_despite_a_cancel(fleet: Fleet) -> None:
    node = fleet.agent("node-a")
    job = fleet.submit()
    fleet.tick()
    node.start_assigned()
    fleet.ok("POST", f"/jobs/{job['id']}/cancel", fleet.admin)
    assert node.finish(job["id"], 0)["state"] == "succeeded"


def test_a_stop_without_a_cancel_is_a_preemption_back_to_pending(fleet: Fleet) -> None:
    node = fleet.agent("node-a")
    job = fleet.submit()
    fleet.tick()
    node.start_assigned()
    back = node.finish(job["id"], -15, stopped=True)
    assert (back["state"], back["attempts"], back["node"]) == ("pending", 1, None)
    assert fleet.tick().scheduled == (job["id"],)
    [start] = node.heartbeat()["start"]
    assert start["env"]["GPUFLEET_ATTEMPT"] == "1"
