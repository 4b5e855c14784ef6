"""The scheduler tick: load a snapshot -> ``decide`` -> apply, in two short sessions.

The same ``scheduling.core.decide`` the simulator drives runs here on a snapshot of the database:

* **Context.** GPU types are the models present on ``up`` nodes; ``capacity`` is their GPUs.
  Only GPUs that need no acceptance test or passed it count (``SCHEDULABLE``): a delivered
  node is invisible to the policy while quarantined, and a GPU that failed stays out.
  Jobs are the pending ones plus those holding GPUs (scheduled or running, with
  ``current_type`` the model they hold), so the policy sees capacity minus what is held — the
  free GPUs per model — and every project's share. Throughput is 1 on a job's allowed models
  (all when it names none) and 0 elsewhere; ``remaining_steps`` is the run time the job has
  left by its time limit (``default_time_limit_s`` for a job without one) — a pending job's
  whole limit, a held one's limit minus the time since it was scheduled (at least 1 s) — so
  the ``priority`` policy's EASY backfill starts a job ahead of the blocked head of the queue
  only if, by these estimates, it does not delay it (as Slurm's backfill uses ``--time``);
  ``arrival_s`` is the submit time; priority, project index, quotas and weights come from the
  rows.
* **Placement.** Each ``Start`` of a pending job goes to the first ``up`` node by name with
  enough free GPUs of that model for the whole gang (``domain.fleet.first_fit``); a gang never
  spans nodes, so a job no node can hold now is skipped this tick (the policy counts GPUs per
  model, not per node). The policy counted that job's GPUs as taken, so jobs behind it in its
  order wait too this tick: like a reservation, the head of the queue is not overtaken.
* **Apply.** In a second session each placement is re-checked under row locks (node, then job):
  the job must still be pending and not being cancelled, the node up, the GPUs of that model and
  still free. Applying twice, or from two ticks at once, schedules nothing twice.
* **v1 never preempts.** ``Preempt`` actions (and a ``Start`` that would move a job holding
  GPUs) are ignored and counted: running jobs stop only when cancelled or their node is lost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from gpufleet.domain.fleet import Acceptance, Gpu, Node, NodeState, first_fit
from gpufleet.domain.job import JobState
from gpufleet.scheduling.core import NOT_RUNNING, Context, Preempt, Start, decide, make_policy
from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import JobRow, NodeRow, ProjectRow
from gpufleet.server.services.allocations import open_allocation
from gpufleet.server.services.common import HOLDING, change_state, record

ACTIVE = (JobState.PENDING.value, *HOLDING)
SCHEDULABLE = tuple(a.value for a in Acceptance if a.schedulable)
"""Acceptance states whose nodes and GPUs the scheduler may use."""


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


@dataclass(frozen=True, slots=True)
class Placement:
    job: int
    node_id: int
    model: str
    gpu_indices: tuple[int, ...]


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
    with db.transaction() as session:
        node_rows = session.scalars(
            select(NodeRow)
            .where(NodeRow.state == NodeState.UP.value, NodeRow.acceptance.in_(SCHEDULABLE))
            .options(selectinload(NodeRow.gpus))
            .order_by(NodeRow.name)
        ).all()
        job_rows = session.scalars(
            select(JobRow)
            .where(JobRow.state.in_(ACTIVE))
            .options(selectinload(JobRow.project))
            .order_by(JobRow.id)
        ).all()
        project_rows = session.scalars(select(ProjectRow).order_by(ProjectRow.name)).all()
        models = {(g.node_id, g.index): g.model for n in node_rows for g in n.gpus}
        allocated: dict[int, set[int]] = {n.id: set() for n in node_rows}
        jobs: list[ActiveJob] = []
        for row in job_rows:
            holds = None
            if row.state != JobState.PENDING.value:
                if row.node_id not in allocated or not row.gpu_indices:
                    continue  # on a node that is not up: not schedulable capacity
                allocated[row.node_id].update(row.gpu_indices)
                holds = models.get((row.node_id, row.gpu_indices[0]))
                if holds is None:
                    continue
            jobs.append(
                ActiveJob(
                    id=row.id,
                    project=row.project.name,
                    gpus=row.gpus,
                    gpu_models=tuple(row.gpu_models),
                    priority=row.priority,
                    submitted_s=row.submitted_at.timestamp(),
                    time_limit_s=row.time_limit_s,
                    since_s=None if row.scheduled_at is None else row.scheduled_at.timestamp(),
                    holds=holds,
                )
            )
        nodes = tuple(
            Node(
                id=n.id,
                name=n.name,
                state=NodeState(n.state),
                gpus=tuple(
                    Gpu(index=g.index, model=g.model, memory_gib=g.memory_gib, uuid=g.uuid)
                    for g in n.gpus
                    if g.acceptance in SCHEDULABLE
                ),
                allocated=frozenset(allocated[n.id]),
            )
            for n in node_rows
        )
        return Snapshot(
            nodes=nodes,
            jobs=tuple(jobs),
            projects=tuple(p.name for p in project_rows),
            quota={p.name: dict(p.quota) for p in project_rows},
            weight={p.name: p.weight for p in project_rows},
        )


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


def place(
    snapshot: Snapshot, actions: list[Start | Preempt], gpu_types: tuple[str, ...]
) -> tuple[list[Placement], tuple[int, ...]]:
    """First-fit nodes for the ``Start`` of pending jobs; also the jobs no node could hold."""
    pending = {j.id for j in snapshot.jobs if j.holds is None}
    nodes = {n.id: n for n in snapshot.nodes}
    placements: list[Placement] = []
    unplaced: list[int] = []
    for action in actions:
        if not isinstance(action, Start) or action.job not in pending:
            continue
        model = gpu_types[action.gpu_type]
        found = first_fit(tuple(nodes.values()), model, action.gpus)
        if found is None:
            unplaced.append(action.job)
            continue
        node, indices = found
        nodes[node.id] = dataclasses.replace(node, allocated=node.allocated | set(indices))
        placements.append(Placement(action.job, node.id, model, indices))
    return placements, tuple(unplaced)


def apply(db: Database, placements: list[Placement], now: datetime) -> tuple[int, ...]:
    """pending -> scheduled for each placement still valid under locks; returns those jobs."""
    if not placements:
        return ()
    applied: list[int] = []
    with db.transaction() as session:
        node_ids = sorted({p.node_id for p in placements})
        nodes = {
            n.id: n
            for n in session.scalars(
                select(NodeRow)
                .where(NodeRow.id.in_(node_ids))
                .order_by(NodeRow.id)
                .with_for_update()
            )
        }
        for p in placements:
            node = nodes.get(p.node_id)
            if (
                node is None
                or node.state != NodeState.UP.value
                or node.acceptance not in SCHEDULABLE
            ):
                continue
            job = session.scalar(select(JobRow).where(JobRow.id == p.job).with_for_update())
            if job is None or job.state != JobState.PENDING.value or job.cancel_requested:
                continue
            models = {g.index: g.model for g in node.gpus if g.acceptance in SCHEDULABLE}
            if any(models.get(i) != p.model for i in p.gpu_indices):
                continue
            held = session.scalars(
                select(JobRow.gpu_indices).where(
                    JobRow.node_id == node.id, JobRow.state.in_(HOLDING)
                )
            ).all()
            if {i for indices in held for i in indices} & set(p.gpu_indices):
                continue
            change_state(job, JobState.SCHEDULED, now)
            job.node = node
            job.gpu_indices = list(p.gpu_indices)
            open_allocation(session, job, node, p.model, now)
            session.flush()
            gpus = ",".join(str(i) for i in p.gpu_indices)
            record(
                session, now, "job.scheduled", f"on {node.name} GPUs {gpus} ({p.model})",
                job_id=job.id, node_id=node.id,
            )  # fmt: skip
            applied.append(job.id)
    return tuple(applied)
