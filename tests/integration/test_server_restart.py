"""All state is in the database: a restarted server resumes, and no job is scheduled twice —
not across a restart, and not by two schedulers deciding at the same moment."""

from __future__ import annotations

from fleet_harness import Agent, FakeClock, Fleet

from gpufleet.scheduling.core import decide, make_policy
from gpufleet.server.services.scheduler import build_context, load_snapshot
from gpufleet.server.services.scheduler_apply import Placement, apply, place


def test_a_restarted_server_resumes_where_it_stopped(database_url: str, clock: FakeClock) -> None:
    first = Fleet(database_url, clock)
    first.project("vision")
    node = first.agent("node-a", gpus=4)
    runs = first.submit(gpus=2, name="runs")
    placed = first.submit(gpus=2, name="placed")
    waits = first.submit(gpus=2, name="waits")
    assert set(first.tick().scheduled) == {runs["id"], placed["id"]}
    starts = [s["job"] for s in node.heartbeat()["start"]]
    assert sorted(starts) == sorted([runs["id"], placed["id"]])
    first.ok("POST", f"/agent/jobs/{runs['id']}/started", node.token, json={})
    node.running.add(runs["id"])
    before = first.jobs()
    first.close()

    second = Fleet(database_url, clock, admin=first.admin)
    try:
        assert second.admin == first.admin  # no second admin token on restart
        assert second.jobs() == before
        assert second.tick().scheduled == ()  # nothing scheduled twice
        agent = Agent(second, "node-a", node.token)
        agent.running = set(node.running)
        answer = agent.heartbeat()
        assert [s["job"] for s in answer["start"]] == [placed["id"]]  # not the running one
        assert answer["stop"] == []
        agent.finish(runs["id"], 0)
        assert second.tick().scheduled == (waits["id"],)
        assert second.job(waits["id"])["gpu_indices"] == second.job(runs["id"])["gpu_indices"]
        assert len(second.events("job.scheduled")) == 3
    finally:
        second.close()


def test_two_schedulers_deciding_at_once_never_double_book(
    database_url: str, clock: FakeClock
) -> None:
    one = Fleet(database_url, clock)
    two = Fleet(database_url, clock, admin=one.admin)
    try:
        one.project("vision")
        one.agent("node-a", gpus=2)
        jobs = [one.submit(gpus=1)["id"] for _ in range(3)]
        plans = []
        for fleet in (one, two):  # both read the same snapshot before either applies
            snapshot = load_snapshot(fleet.db)
            context = build_context(snapshot, clock().timestamp(), 1.0)
            assert context is not None
            placements, unplaced = place(snapshot, decide(make_policy("priority"), context),
                                         context.gpu_types)  # fmt: skip
            assert (len(placements), unplaced) == (2, ())
            plans.append(placements)
        assert plans[0] == plans[1]
        assert apply(one.db, plans[0], clock()) == tuple(jobs[:2])
        assert apply(two.db, plans[1], clock()) == ()  # those jobs are no longer pending
        node_id = plans[0][0].node_id
        taken = Placement(jobs[2], node_id, "H100-SXM", (0,))
        assert apply(two.db, [taken], clock()) == ()  # GPU 0 is held
        wrong_model = Placement(jobs[2], node_id, "A100-80GB", (0,))
        assert apply(two.db, [wrong_model], clock()) == ()
        held = [tuple(one.job(j)["gpu_indices"]) for j in jobs]
        assert held == [(0,), (1,), ()]
    finally:
        one.close()
        two.close()


def test_one_apply_never_books_a_gpu_or_a_job_twice(fleet: Fleet) -> None:
    """apply checks each placement against the ones it applied before it in the same batch."""
    fleet.agent("node-a", gpus=2)
    jobs = [fleet.submit(gpus=1)["id"] for _ in range(3)]
    node_id = next(n["id"] for n in fleet.ok("GET", "/nodes", fleet.admin))
    now = fleet.clock()
    plan = [
        Placement(jobs[0], node_id, "H100-SXM", (0,)),
        Placement(jobs[1], node_id, "H100-SXM", (0,)),  # GPU 0 was just booked
        Placement(jobs[0], node_id, "H100-SXM", (1,)),  # job 0 is no longer pending
        Placement(jobs[2], node_id, "H100-SXM", (1,)),
    ]
    assert apply(fleet.db, plan, now) == (jobs[0], jobs[2])
    assert [fleet.job(j)["gpu_indices"] for j in jobs] == [[0], [], [1]]
    assert len(fleet.events("job.scheduled")) == 2


def test_the_time_a_server_was_down_is_not_its_nodes_silence(
    database_url: str, clock: FakeClock
) -> None:
    # The server is down for a minute; its agents kept running their jobs. Restarted, it gives
    # them a whole loss window (3 x 5 s) to heartbeat before declaring anything lost — else
    # every running job would be requeued and run twice.
    first = Fleet(database_url, clock)
    try:
        first.project("vision")
        node = first.agent("node-a", gpus=2)
        job = first.submit(gpus=2, name="long")
        first.tick()
        node.start_assigned()
    finally:
        first.close()

    clock.advance(60)
    second = Fleet(database_url, clock, admin=first.admin)
    try:
        assert second.check_lost() == []
        clock.advance(14)
        assert second.check_lost() == []
        agent = Agent(second, "node-a", node.token)
        agent.running = {job["id"]}
        agent.heartbeat()
        clock.advance(16)  # silent for a whole window after the server came back
        assert second.check_lost() == ["node-a"]
        assert second.job(job["id"])["state"] == "pending"
    finally:
        second.close()
