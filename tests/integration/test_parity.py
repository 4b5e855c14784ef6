"""Simulator/server parity: one small trace replayed through both drivers of ``decide``
(DESIGN.md: "a parity test replays one small trace through both drivers and asserts the same
actions"; the rule is in docs/ARCHITECTURE.md, "Parity").

``TRACE`` is 32 jobs (arrival round, gang of 1/2/4/8 GPUs, priority 0-2, run time in rounds) on
4 nodes x 8 H100-SXM, under the server's default policy ``priority``, replayed through:

* **the simulator** — ``sim.rounds_sim.simulate`` on a virtual clock, every job 1 step/s with
  ``run time x ROUND_S`` steps; the policy is wrapped to record each round's context and
  assignment, spelled out as actions by ``Decision.actions()``;
* **the server** — the app on a real database (SQLite and PostgreSQL) with a ``FakeClock``: four
  harness agents register the nodes; round by round the clock moves ``ROUND_S``, agents report
  ``finished`` the jobs whose run time has elapsed, the round's arrivals are submitted through
  the API (in trace order) with their run time as their time limit (``--time-limit``: the
  server's run-time estimate), ``fleet.tick()`` runs once, and agents start what they are
  assigned.

Asserted: the same ``Start`` actions in the same rounds (the same jobs, on the same GPU model),
no ``Preempt`` from either (the server ignores them, so the trace must never need one), every
job's start and completion round read back from each driver (``first_start_s`` /
``completion_s``; the API's ``started_at`` / ``finished_at``) and so the same JCTs and
completion order.

Where the drivers' semantics coincide by construction of the trace: arrivals and run times are
whole rounds and every job runs 1 step/s, so each simulated round lasts exactly ``ROUND_S`` and
the simulator's boundaries fall on the server's ticks (an idle simulator jumps to the next
arrival, also a tick). An arrival at a boundary joins it in both (submitted before the tick). A
job that ends in round r frees its GPUs for the decision at r + 1 in both: at the round's end in
the simulator; on the server the agent reports it finished before that tick. One GPU model, and
no gang larger than a node (the server refuses one at submission; the simulator one larger than
the cluster).

Where they differ (the tests at the end pin each down):

1. **Run times.** The simulator knows each job's run time; the server knows a job's time limit
   and assumes ``default_time_limit_s`` (a day) for a job without one. With limits equal to the
   run times (as here) the two agree; without, the server's estimates are longer, so it
   backfills less: a short job without a limit is held back where the simulator would start it
   (it never backfills more than the simulator would with the same estimates).
2. **Gangs on nodes.** The simulator counts free GPUs per model; the server puts each gang on one
   node (first fit by name). When the free GPUs are spread over nodes (4 + 4 for an 8-GPU gang)
   the policy starts the job, the simulator runs it, and the server leaves it pending
   (``TickReport.unplaced``) until one node has room.

On loaded random traces of this size the second is common; ``TRACE`` is the generator's seed
442, picked among those that avoid it for its queueing: 13 of its jobs wait (four 8-GPU gangs
among them), jobs overtake waiting ones by priority, and jobs are backfilled past the head of
the queue where EASY allows it in both drivers. A guard names the difference if a change to a
driver, the policy or the trace brings it in: no server tick may leave a started job unplaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from fleet_harness import Agent, Fleet

from gpufleet.scheduling.core import (
    Context,
    Decision,
    Int,
    Policy,
    Preempt,
    Start,
    make_policy,
)
from gpufleet.server.services.scheduler import TickReport
from gpufleet.sim.rounds_sim import Workload, simulate

ROUND_S = 600.0
MODEL = "H100-SXM"
GPUS_PER_NODE = 8
POLICY = "priority"  # the server's default (Settings.policy)


@dataclass(frozen=True, slots=True)
class TraceJob:
    arrival: int
    """Round it arrives at."""
    gpus: int
    priority: int
    duration: int
    """Rounds it runs."""


def trace(rows: Sequence[tuple[int, int, int, int]]) -> tuple[TraceJob, ...]:
    return tuple(TraceJob(*row) for row in rows)


TRACE = trace((
    (0, 1, 1, 2), (0, 1, 2, 2), (0, 2, 1, 3), (0, 1, 0, 2),
    (1, 2, 1, 4), (1, 4, 1, 3), (1, 2, 0, 2), (1, 8, 2, 4),
    (1, 1, 2, 1), (2, 4, 2, 4), (2, 8, 2, 4), (2, 8, 0, 2),
    (2, 4, 1, 1), (2, 4, 0, 4), (3, 8, 1, 3), (3, 4, 1, 2),
    (4, 1, 0, 2), (4, 4, 2, 2), (4, 4, 0, 4), (4, 1, 2, 2),
    (4, 8, 1, 2), (5, 1, 1, 4), (5, 2, 1, 4), (5, 1, 1, 2),
    (6, 1, 2, 1), (7, 1, 0, 2), (7, 2, 1, 3), (7, 2, 1, 3),
    (7, 1, 2, 3), (7, 8, 2, 1), (7, 4, 2, 3), (7, 2, 1, 1),
))  # fmt: skip
"""``(arrival round, GPUs, priority, rounds)`` per job. Made by this generator, seed 442::

    rng = numpy.random.default_rng(seed)
    arrival = numpy.sort(rng.integers(0, 8, 32))
    gpus = rng.choice([1, 2, 4, 8], size=32, p=[0.4, 0.3, 0.2, 0.1])
    priority = rng.integers(0, 3, 32)
    duration = rng.integers(1, 5, 32)
"""


@dataclass(frozen=True, slots=True)
class Replay:
    """What a driver did with a trace, by trace index."""

    starts: dict[int, list[int]]
    """Round -> jobs started then (rounds where none started are left out)."""
    models: dict[int, str]
    """Job -> the GPU model it was started on."""
    started: list[int]
    """Job -> the round it started."""
    ended: list[int]
    """Job -> the round it completed (its GPUs are free for that round's decision)."""
    preemptions: int

    def jct_rounds(self, jobs: Sequence[TraceJob]) -> list[int]:
        return [end - job.arrival for end, job in zip(self.ended, jobs, strict=True)]

    def completion_order(self) -> list[int]:
        return sorted(range(len(self.ended)), key=lambda j: (self.ended[j], j))


class Recording(Policy):
    """The policy the server runs, recording each round's context and assignment."""

    def __init__(self) -> None:
        super().__init__()
        self.policy = make_policy(POLICY)
        self.rounds: list[tuple[Context, Int]] = []

    def assign(self, context: Context) -> Int:
        target = self.policy.assign(context)
        self.rounds.append((context, target))
        return target


def round_of(seconds: float) -> int:
    rounds = seconds / ROUND_S
    assert rounds == int(rounds), f"{seconds} s is not on a round boundary"
    return int(rounds)


def replay_in_simulator(jobs: Sequence[TraceJob], nodes: int) -> tuple[Replay, Recording]:
    n = len(jobs)
    workload = Workload(
        job_id=np.arange(n, dtype=np.int64),
        gpus=np.array([j.gpus for j in jobs], dtype=np.int64),
        throughput=np.ones((n, 1)),
        total_steps=np.array([j.duration * ROUND_S for j in jobs]),
        arrival_s=np.array([j.arrival * ROUND_S for j in jobs]),
        priority=np.array([j.priority for j in jobs], dtype=np.int64),
    )
    policy = Recording()
    result = simulate(
        workload, policy, gpu_types=[MODEL], capacity=[nodes * GPUS_PER_NODE], round_s=ROUND_S
    )
    starts: dict[int, list[int]] = {}
    models: dict[int, str] = {}
    preemptions = 0
    for context, target in policy.rounds:
        actions = Decision(context.job_id, context.current_type, target, context.gpus).actions()
        preemptions += sum(isinstance(a, Preempt) for a in actions)
        started = [a for a in actions if isinstance(a, Start)]
        if started:
            starts[round_of(context.now)] = sorted(a.job for a in started)
        models.update({a.job: context.gpu_types[a.gpu_type] for a in started})
    return Replay(
        starts=starts,
        models=models,
        started=[round_of(s) for s in result.first_start_s.tolist()],
        ended=[round_of(s) for s in result.completion_s.tolist()],
        preemptions=preemptions,
    ), policy


def replay_on_server(
    fleet: Fleet, jobs: Sequence[TraceJob], nodes: int, *, time_limits: bool = True
) -> tuple[Replay, list[TickReport]]:
    agents = [fleet.agent(f"node-{k}", gpus=GPUS_PER_NODE, model=MODEL) for k in range(nodes)]
    origin = fleet.clock.now
    index: dict[int, int] = {}  # server job id -> trace index
    ends: dict[int, tuple[int, Agent]] = {}  # running job -> (round it ends, its agent)
    starts: dict[int, list[int]] = {}
    reports: list[TickReport] = []
    finished = 0
    last_round = max(j.arrival for j in jobs) + sum(j.duration for j in jobs)
    for now in range(last_round + 1):
        for job_id in sorted(j for j, (end, _) in ends.items() if end == now):
            ends.pop(job_id)[1].finish(job_id)
            finished += 1
        if finished == len(jobs):
            break
        for i, job in enumerate(jobs):
            if job.arrival == now:
                body = {"gpus": job.gpus, "priority": job.priority, "name": f"trace-{i}"}
                if time_limits:
                    body["time_limit_s"] = int(job.duration * ROUND_S)
                index[fleet.submit(**body)["id"]] = i
        report = fleet.tick()
        reports.append(report)
        if report.scheduled:
            starts[now] = sorted(index[j] for j in report.scheduled)
        for agent in agents:
            for job_id in agent.start_assigned():
                ends[job_id] = (now + jobs[index[job_id]].duration, agent)
        fleet.clock.advance(ROUND_S)
    rows = {index[j["id"]]: j for j in fleet.jobs() if j["id"] in index}
    assert [rows[i]["state"] for i in range(len(jobs))] == ["succeeded"] * len(jobs)

    def rounds(field: str) -> list[int]:
        at = [datetime.fromisoformat(rows[i][field]) - origin for i in range(len(jobs))]
        return [round_of(t.total_seconds()) for t in at]

    models: dict[int, str] = {}
    for _, job_id, message in fleet.events("job.scheduled"):  # "on NODE GPUs 0,1 (MODEL)"
        assert job_id is not None
        models[index[job_id]] = message.rsplit("(", 1)[1].rstrip(")")
    assert rounds("submitted_at") == [j.arrival for j in jobs]
    return Replay(
        starts=starts,
        models=models,
        started=rounds("started_at"),
        ended=rounds("finished_at"),
        preemptions=sum(r.ignored_preemptions for r in reports),
    ), reports


def test_the_simulator_and_the_server_start_the_same_jobs_in_the_same_rounds(
    fleet: Fleet,
) -> None:
    simulated, _ = replay_in_simulator(TRACE, nodes=4)
    served, reports = replay_on_server(fleet, TRACE, nodes=4)

    # The guard: the known difference 2 does not arise on this trace (module docstring).
    unplaced = {r: report.unplaced for r, report in enumerate(reports) if report.unplaced}
    assert unplaced == {}, "difference 2 (gangs on nodes) arose"

    assert simulated.preemptions == 0
    assert served.preemptions == 0
    assert served.starts == simulated.starts
    assert served.models == simulated.models == dict.fromkeys(range(len(TRACE)), MODEL)
    assert served.started == simulated.started
    assert served.ended == simulated.ended
    assert served.jct_rounds(TRACE) == simulated.jct_rounds(TRACE)
    assert served.completion_order() == simulated.completion_order()
    # The trace exercises what it should: jobs wait, 8-GPU gangs among them; a job overtakes a
    # waiting one by priority, and a job is backfilled past the head of the queue.
    waited = [j for j, job in enumerate(TRACE) if simulated.started[j] > job.arrival]
    assert len(waited) == 13
    assert sum(TRACE[j].gpus == GPUS_PER_NODE for j in waited) == 4
    by_priority, backfilled = overtakes(simulated, TRACE)
    assert by_priority
    assert backfilled


def overtakes(replay: Replay, jobs: Sequence[TraceJob]) -> tuple[set[int], set[int]]:
    """Jobs that started while another job waited: ahead of it in ``priority``'s queue order
    (priority, then arrival), and behind it (backfilled)."""

    def rank(j: int) -> tuple[int, int, int]:
        return (-jobs[j].priority, jobs[j].arrival, j)

    ahead: set[int] = set()
    behind: set[int] = set()
    for j, start in enumerate(replay.started):
        for k, job in enumerate(jobs):
            if job.arrival <= start < replay.started[k]:
                (ahead if rank(j) < rank(k) else behind).add(j)
    return ahead, behind


def test_with_time_limits_the_server_backfills_as_the_simulator_does(fleet: Fleet) -> None:
    # One node. Job 0 (6 GPUs) runs rounds 0-3. At round 1 job 1 (8 GPUs, higher priority) heads
    # the queue and cannot start before job 0 ends (round 4, its shadow time); job 2 (2 GPUs,
    # 1 round) fits the 2 free GPUs and ends in time, so EASY backfills it — in the simulator,
    # and on the server when its time limit says so. Without a limit the server assumes a day,
    # longer than job 0's, and holds job 2 back until job 1 has run: never delaying the head
    # (a big job does not starve behind small ones), at the cost of the backfill.
    jobs = trace(((0, 6, 0, 4), (1, 8, 1, 1), (1, 2, 0, 1)))
    simulated, _ = replay_in_simulator(jobs, nodes=1)
    assert simulated.starts == {0: [0], 1: [2], 4: [1]}
    served, _ = replay_on_server(fleet, jobs, nodes=1)
    assert served.starts == simulated.starts


def test_difference_1_without_time_limits_the_default_estimate_holds_small_jobs_back(
    fleet: Fleet,
) -> None:
    jobs = trace(((0, 6, 0, 4), (1, 8, 1, 1), (1, 2, 0, 1)))
    served, _ = replay_on_server(fleet, jobs, nodes=1, time_limits=False)
    assert served.starts == {0: [0], 4: [1], 5: [2]}


def test_difference_2_a_gang_on_gpus_spread_over_nodes_waits_on_the_server(fleet: Fleet) -> None:
    # Two nodes. Jobs 0 and 1 (4 GPUs each) fill node-0, job 2 half of node-1. Job 1 ends after
    # round 0, so at round 1 there are 8 free GPUs, 4 on each node: the simulator starts job 3
    # (8 GPUs) then; the server cannot place it until jobs 0 and 2 end, at round 2.
    jobs = trace(((0, 4, 0, 2), (0, 4, 0, 1), (0, 4, 0, 2), (1, 8, 0, 1)))
    simulated, _ = replay_in_simulator(jobs, nodes=2)
    served, reports = replay_on_server(fleet, jobs, nodes=2)
    assert simulated.starts == {0: [0, 1, 2], 1: [3]}
    assert served.starts == {0: [0, 1, 2], 2: [3]}
    assert [report.unplaced for report in reports[:3]] == [(), (served_id(fleet, 3),), ()]


def served_id(fleet: Fleet, index: int) -> int:
    """The server's id of the trace's job ``index`` (named ``trace-{index}``)."""
    [job] = [j for j in fleet.jobs() if j["name"] == f"trace-{index}"]
    return int(job["id"])
