"""Time limits: a job is stopped after its own limit, and the scheduler takes limits (or the
default estimate) as run times, so a blocked large job is not overtaken by jobs that might
outlast its reservation, while a job that will end in time is backfilled."""

from __future__ import annotations

from fleet_harness import Fleet


def test_a_job_past_its_time_limit_is_stopped_and_cancelled(fleet: Fleet) -> None:
    agent = fleet.agent("n1", gpus=4)
    job = fleet.submit(gpus=1, time_limit_s=600)
    assert job["time_limit_s"] == 600
    fleet.tick()
    assert agent.start_assigned() == [job["id"]]
    fleet.clock.advance(599)
    assert agent.heartbeat()["stop"] == []
    fleet.clock.advance(2)
    assert agent.heartbeat()["stop"] == [job["id"]]
    assert [m for _, _, m in fleet.events("job.time_limit")] == [
        "time limit of 600 s reached: stopping it"
    ]
    done = agent.finish(job["id"], exit_code=-15, stopped=True)
    assert done["state"] == "cancelled"
    response = fleet.post("/jobs", fleet.admin, json={"project": "vision", "command": ["x"],
                                                      "time_limit_s": 0})  # fmt: skip
    assert response.status_code == 422
    assert "time_limit_s" in response.text


def test_a_blocked_gang_is_not_overtaken_by_jobs_without_limits(fleet: Fleet) -> None:
    agent = fleet.agent("n1", gpus=8)
    first = fleet.submit(gpus=6)  # runs; no limit: a day assumed
    fleet.tick()
    agent.start_assigned()
    fleet.clock.advance(60)
    big = fleet.submit(gpus=8, priority=1)  # heads the queue, cannot start
    small = fleet.submit(gpus=2)  # fits the 2 free GPUs, but might outlast `first`
    assert fleet.tick().scheduled == ()
    short = fleet.submit(gpus=2, time_limit_s=600)  # ends long before `first` is expected to
    assert fleet.tick().scheduled == (short["id"],)
    agent.start_assigned()
    agent.finish(first["id"])
    agent.finish(short["id"])
    assert fleet.tick().scheduled == (big["id"],)
    assert fleet.job(small["id"])["state"] == "pending"
