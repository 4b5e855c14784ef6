"""The scheduler tick: load a snapshot -> ``decide`` -> apply, in two short sessions.

The same ``scheduling.core.decide`` the simulator drives runs here on a snapshot of the database:

* **Context.** GPU types are the models present on ``up`` nodes; ``capacity`` is their GPUs.
  Jobs are the pending ones plus those holding GPUs (scheduled or running, with
  ``current_type`` the model they hold), so the policy sees capacity minus what is held — the
  free GPUs per model — and every project's share. Only GPUs that need no acceptance test or
  passed it count (``SCHEDULABLE``): a delivered node is invisible to the policy while
  quarantined, and a GPU that failed stays out. Throughput is 1 on a job's allowed models (all
  when it names none) and 0 elsewhere; ``remaining_steps`` is the run time the job has left by
  its time limit (``default_time_limit_s`` for a job without one) — a pending job's whole
  limit, a held one's limit minus the time since it was scheduled (at least 1 s) — so the
  ``priority`` policy's EASY backfill starts a job ahead of the blocked head of the queue only
  if, by these estimates, it does not delay it (as Slurm's backfill uses ``--time``);
  ``arrival_s`` is the submit time; priority, project index, quotas and weights come from the
  rows.
* **Placement.** Each ``Start`` of a pending job goes to the first ``up`` node by name with
  enough free GPUs of that model for the whole gang, on its lowest free indices (the choice of
  ``domain.fleet.first_fit``, made on arrays by ``FreeGpus``); a gang never spans nodes, so a
  job no node can hold now is skipped this tick (the policy counts GPUs per model, not per
  node). The policy counted that job's GPUs as taken, so jobs behind it in its order wait too
  this tick: like a reservation, the head of the queue is not overtaken.
* **Apply.** In a second session each placement is re-checked under row locks (nodes, then
  jobs, each in id order): the job must still be pending and not being cancelled, the node up,
  the GPUs of that model and still free (of jobs holding them, and of placements applied before
  it). Applying twice, or from two ticks at once, schedules nothing twice. Each placement opens
  the job's allocation (its usage record, priced at the node's contract).
* **Cost.** A tick makes a fixed number of queries whatever the fleet's size (the snapshot reads
  columns, not ORM objects; apply locks and reads in batches of ``BATCH``), and placement costs
  one vector operation over the up nodes per gang.
* **v1 never preempts.** ``Preempt`` actions (and a ``Start`` that would move a job holding
  GPUs) are ignored and counted: running jobs stop only when cancelled or their node is lost.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Text, cast, select

from gpufleet.domain.fleet import SCHEDULABLE, Gpu, Node, NodeState
from gpufleet.domain.job import JobState
from gpufleet.scheduling.core import NOT_RUNNING, Context, Preempt, decide, make_policy
from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import GpuRow, JobRow, NodeRow, ProjectRow
from gpufleet.server.services.common import HOLDING
from gpufleet.server.services.scheduler_apply import apply, place

ACTIVE = (JobState.PENDING.value, *HOLDING)
JOB_COLUMNS = (
    JobRow.id, JobRow.state, JobRow.node_id, cast(JobRow.gpu_indices, Text), ProjectRow.name,
    JobRow.gpus, cast(JobRow.gpu_models, Text), JobRow.priority, JobRow.submitted_at,
    JobRow.time_limit_s, JobRow.scheduled_at,
)  # fmt: skip
"""What the snapshot reads of each active job (and its project's name). The two JSON lists come
as text, decoded once per distinct value (``_Lists``): a fleet's jobs share a few, and decoding
each row's was half of a tick with 10,000 pending jobs."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveJob:
    id: int
    project: str
    gpus: int
    gpu_models: tuple[str, ...]
    """Allowed canonical models; empty: any."""
    priority: int
    submitted_s: float
    time_limit_s: float | None = None
    since_s: float | None = None
    """When it got its GPUs (scheduled); ``None`` while pending."""
    holds: str | None = None
    """The model of the GPUs it holds (scheduled or running); ``None`` while pending."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    nodes: tuple[Node, ...]
    """Up nodes, with the GPUs their scheduled and running jobs hold."""
    jobs: tuple[ActiveJob, ...]
    projects: tuple[str, ...]
    quota: Mapping[str, Mapping[str, int]]
    weight: Mapping[str, float]


@dataclass(frozen=True, slots=True, kw_only=True)
class TickReport:
    scheduled: tuple[int, ...] = ()
    """Jobs moved pending -> scheduled."""
    unplaced: tuple[int, ...] = ()
    """Jobs the policy started that no single node could hold (or that changed meanwhile)."""
    ignored_preemptions: int = 0
    pending: int = 0
    """Jobs still pending after the tick."""
    allocated_gpus: int = 0


def tick(
    db: Database,
    *,
    policy: str,
    now: datetime,
    round_s: float,
    default_time_limit_s: float = 86400.0,
) -> TickReport:
    snapshot = load_snapshot(db)  # session 1, closed before deciding
    context = build_context(snapshot, now.timestamp(), round_s, default_time_limit_s)
    if context is None:
        return _report(snapshot, ())
    actions = decide(make_policy(policy), context)
    placements, unplaced = place(snapshot, actions, context.gpu_types)
    applied = apply(db, placements, now)  # session 2
    dropped = tuple(p.job for p in placements if p.job not in applied)
    ignored = sum(1 for a in actions if isinstance(a, Preempt))
    return _report(snapshot, applied, unplaced + dropped, ignored)


def _report(
    snapshot: Snapshot, applied: tuple[int, ...], unplaced: tuple[int, ...] = (), ignored: int = 0
) -> TickReport:
    jobs = {j.id: j for j in snapshot.jobs}
    held = sum(j.gpus for j in snapshot.jobs if j.holds is not None)
    return TickReport(
        scheduled=applied,
        unplaced=unplaced,
        ignored_preemptions=ignored,
        pending=sum(1 for j in snapshot.jobs if j.holds is None) - len(applied),
        allocated_gpus=held + sum(jobs[i].gpus for i in applied),
    )


def load_snapshot(db: Database) -> Snapshot:
    """Up nodes with what their jobs hold, the active jobs, the projects: four queries of
    columns (no ORM objects: a tick reads every active job)."""
    up = (NodeRow.state == NodeState.UP.value) & NodeRow.acceptance.in_(SCHEDULABLE)
    with db.transaction() as session:
        node_rows = session.execute(
            select(NodeRow.id, NodeRow.name).where(up).order_by(NodeRow.name)
        ).all()
        gpu_rows = session.execute(
            select(GpuRow.node_id, GpuRow.index, GpuRow.model, GpuRow.memory_gib, GpuRow.uuid)
            .join(NodeRow, GpuRow.node_id == NodeRow.id)
            .where(up, GpuRow.acceptance.in_(SCHEDULABLE))
            .order_by(GpuRow.node_id, GpuRow.index)
        ).all()
        job_rows = session.execute(
            select(*JOB_COLUMNS)
            .join(ProjectRow, JobRow.project_id == ProjectRow.id)
            .where(JobRow.state.in_(ACTIVE))
            .order_by(JobRow.id)
        ).all()
        project_rows = session.execute(
            select(ProjectRow.name, ProjectRow.quota, ProjectRow.weight).order_by(ProjectRow.name)
        ).all()
    gpus: dict[int, list[Gpu]] = defaultdict(list)
    models: dict[tuple[int, int], str] = {}
    for node_id, index, model, memory_gib, uuid in gpu_rows:
        gpus[node_id].append(Gpu(index=index, model=model, memory_gib=memory_gib, uuid=uuid))
        models[node_id, index] = model
    allocated: dict[int, set[int]] = {node_id: set() for node_id, _ in node_rows}
    jobs: list[ActiveJob] = []
    pending = JobState.PENDING.value  # read once: an enum's .value is slow in a 10k-row loop
    lists = _Lists()
    for (
        job_id, state, on, indices_json, project, n_gpus, allowed, priority, at, limit, since,
    ) in job_rows:  # fmt: skip
        holds = None
        if state != pending:
            indices = lists.decode(indices_json)
            if on is None or on not in allocated or not indices:
                continue  # on a node that is not up: not schedulable capacity
            allocated[on].update(indices)
            holds = models.get((on, indices[0]))
            if holds is None:
                continue
        jobs.append(
            ActiveJob(
                id=job_id,
                project=project,
                gpus=n_gpus,
                gpu_models=lists.decode(allowed),
                priority=priority,
                submitted_s=at.timestamp(),
                time_limit_s=limit,
                since_s=None if since is None else since.timestamp(),
                holds=holds,
            )
        )
    nodes = tuple(
        Node(
            id=node_id,
            name=name,
            state=NodeState.UP,
            gpus=tuple(gpus[node_id]),
            allocated=frozenset(allocated[node_id]),
        )
        for node_id, name in node_rows
    )
    return Snapshot(
        nodes=nodes,
        jobs=tuple(jobs),
        projects=tuple(name for name, _, _ in project_rows),
        quota={name: dict(quota) for name, quota, _ in project_rows},
        weight={name: weight for name, _, weight in project_rows},
    )


class _Lists:
    """JSON lists decoded once per distinct text."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[Any, ...]] = {}

    def decode(self, text: str) -> tuple[Any, ...]:
        value = self._seen.get(text)
        if value is None:
            value = self._seen[text] = tuple(json.loads(text))
        return value


def build_context(
    snapshot: Snapshot, now_s: float, round_s: float, default_time_limit_s: float = 86400.0
) -> Context | None:
    """The policy's view of the snapshot; ``None`` when there is nothing to decide."""
    gpu_types = tuple(sorted({g.model for n in snapshot.nodes for g in n.gpus}))
    if not gpu_types or not any(j.holds is None for j in snapshot.jobs):
        return None
    kind = {model: k for k, model in enumerate(gpu_types)}
    capacity = np.zeros(len(gpu_types), dtype=np.int64)
    for node in snapshot.nodes:
        for gpu in node.gpus:
            capacity[kind[gpu.model]] += 1
    jobs = snapshot.jobs
    n, k = len(jobs), len(gpu_types)
    throughput = np.zeros((n, k))
    for row, job in enumerate(jobs):
        allowed = [kind[m] for m in job.gpu_models if m in kind] if job.gpu_models else range(k)
        throughput[row, list(allowed)] = 1.0
    project = {name: i for i, name in enumerate(snapshot.projects)}
    return Context(
        now=now_s,
        round_s=round_s,
        gpu_types=gpu_types,
        capacity=capacity,
        job_id=np.array([j.id for j in jobs], dtype=np.int64),
        gpus=np.array([j.gpus for j in jobs], dtype=np.int64),
        throughput=throughput,
        remaining_steps=np.array(
            [_remaining_s(j, now_s, default_time_limit_s) for j in jobs], dtype=np.float64
        ),
        arrival_s=np.array([j.submitted_s for j in jobs]),
        attained_gpu_s=np.zeros(n),
        time_on_type=np.zeros((n, k)),
        current_type=np.array(
            [NOT_RUNNING if j.holds is None else kind[j.holds] for j in jobs], dtype=np.int64
        ),
        priority=np.array([j.priority for j in jobs], dtype=np.int64),
        project=np.array([project[j.project] for j in jobs], dtype=np.int64),
        projects=snapshot.projects or ("default",),
        quota={
            name: np.array([quota.get(m, 0) for m in gpu_types], dtype=np.int64)
            for name, quota in snapshot.quota.items()
        },
        weight=dict(snapshot.weight),
    )


def _remaining_s(job: ActiveJob, now_s: float, default_s: float) -> float:
    """Seconds left by the job's limit (throughput is 1 step per second)."""
    limit = float(job.time_limit_s) if job.time_limit_s is not None else default_s
    if job.holds is None or job.since_s is None:
        return limit
    return max(limit - (now_s - job.since_s), 1.0)
