"""The scheduler tick: load a snapshot -> ``decide`` -> apply, in two short sessions.

The same ``scheduling.core.decide`` the simulator drives runs here on a snapshot of the database:

* **Context.** GPU types are the models present on ``up`` nodes; ``capacity`` is their GPUs.
  Jobs are the pending ones plus those holding GPUs (scheduled or running, with
  ``current_type`` the model they hold), so the policy sees capacity minus what is held — the
  free GPUs per model — and every project's share. Throughput is 1 on a job's allowed models
  (all when it names none) and 0 elsewhere; ``remaining_steps`` is 1 (run times are unknown);
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
  it). Applying twice, or from two ticks at once, schedules nothing twice.
* **Cost.** A tick makes a fixed number of queries whatever the fleet's size (the snapshot reads
  columns, not ORM objects; apply locks and reads in batches of ``BATCH``), and placement costs
  one vector operation over the up nodes per gang.
* **v1 never preempts.** ``Preempt`` actions (and a ``Start`` that would move a job holding
  GPUs) are ignored and counted: running jobs stop only when cancelled or their node is lost.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Text, cast, insert, select
from sqlalchemy.orm import Session, load_only

from gpufleet.domain.fleet import Gpu, Node, NodeState
from gpufleet.domain.job import JobState
from gpufleet.scheduling.core import NOT_RUNNING, Context, Preempt, Start, decide, make_policy
from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import EventRow, GpuRow, JobRow, NodeRow, ProjectRow
from gpufleet.server.services.common import HOLDING, change_state

ACTIVE = (JobState.PENDING.value, *HOLDING)
BATCH = 1000
"""Ids per ``IN (...)`` in apply: far below SQLite's and PostgreSQL's bound-parameter limits."""
JOB_COLUMNS = (
    JobRow.id, JobRow.state, JobRow.node_id, cast(JobRow.gpu_indices, Text), ProjectRow.name,
    JobRow.gpus, cast(JobRow.gpu_models, Text), JobRow.priority, JobRow.submitted_at,
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


def tick(db: Database, *, policy: str, now: datetime, round_s: float) -> TickReport:
    snapshot = load_snapshot(db)  # session 1, closed before deciding
    context = build_context(snapshot, now.timestamp(), round_s)
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
    up = NodeRow.state == NodeState.UP.value
    with db.transaction() as session:
        node_rows = session.execute(
            select(NodeRow.id, NodeRow.name).where(up).order_by(NodeRow.name)
        ).all()
        gpu_rows = session.execute(
            select(GpuRow.node_id, GpuRow.index, GpuRow.model, GpuRow.memory_gib, GpuRow.uuid)
            .join(NodeRow, GpuRow.node_id == NodeRow.id)
            .where(up)
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
    for job_id, state, on, indices_json, project, n_gpus, allowed, priority, at in job_rows:
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


def build_context(snapshot: Snapshot, now_s: float, round_s: float) -> Context | None:
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
        remaining_steps=np.ones(n),
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


class FreeGpus:
    """The free GPUs of each model on each up node, for first-fit placement of many gangs.

    ``take(model, gpus)`` makes ``domain.fleet.first_fit``'s choice — the first up node by name
    with ``gpus`` free GPUs of ``model``, its lowest free indices — and books them. Free counts
    are one array per model over the nodes in name order, so a gang costs one vector operation
    rather than a Python pass over every node and GPU.
    """

    def __init__(self, nodes: Sequence[Node]) -> None:
        self._nodes = sorted((n for n in nodes if n.state is NodeState.UP), key=lambda n: n.name)
        self._free: dict[str, list[list[int]]] = {}
        for k, node in enumerate(self._nodes):
            for gpu in node.gpus:
                if gpu.index not in node.allocated:
                    if gpu.model not in self._free:
                        self._free[gpu.model] = [[] for _ in self._nodes]
                    self._free[gpu.model][k].append(gpu.index)
        for lists in self._free.values():
            for indices in lists:
                indices.sort()
        self._count: dict[str, NDArray[np.int64]] = {
            model: np.array([len(indices) for indices in lists], dtype=np.int64)
            for model, lists in self._free.items()
        }

    def take(self, model: str, gpus: int) -> tuple[Node, tuple[int, ...]] | None:
        """The node and GPU indices for a gang, now booked; ``None`` if no node can hold it."""
        count = self._count.get(model)
        if count is None:
            return None
        k = int(np.argmax(count >= gpus))
        if count[k] < gpus:
            return None
        free = self._free[model][k]
        taken, self._free[model][k] = tuple(free[:gpus]), free[gpus:]
        count[k] -= gpus
        return self._nodes[k], taken


def place(
    snapshot: Snapshot, actions: list[Start | Preempt], gpu_types: tuple[str, ...]
) -> tuple[list[Placement], tuple[int, ...]]:
    """First-fit nodes for the ``Start`` of pending jobs; also the jobs no node could hold."""
    pending = {j.id for j in snapshot.jobs if j.holds is None}
    free = FreeGpus(snapshot.nodes)
    placements: list[Placement] = []
    unplaced: list[int] = []
    for action in actions:
        if not isinstance(action, Start) or action.job not in pending:
            continue
        model = gpu_types[action.gpu_type]
        found = free.take(model, action.gpus)
        if found is None:
            unplaced.append(action.job)
            continue
        node, indices = found
        placements.append(Placement(action.job, node.id, model, indices))
    return placements, tuple(unplaced)


def apply(db: Database, placements: list[Placement], now: datetime) -> tuple[int, ...]:
    """pending -> scheduled for each placement still valid under locks; returns those jobs.
    A few batched reads (``_Locked``) whatever the number of placements; the changes and their
    events go out in batches at commit."""
    if not placements:
        return ()
    applied: list[int] = []
    events: list[dict[str, object]] = []
    up, pending = NodeState.UP.value, JobState.PENDING.value
    with db.transaction() as session:
        locked = _Locked(session, placements)
        for p in placements:
            name, state = locked.nodes.get(p.node_id, ("", ""))
            job = locked.jobs.get(p.job)
            if state != up or job is None or job.state != pending or job.cancel_requested:
                continue
            models, held = locked.models[p.node_id], locked.held[p.node_id]
            if any(models.get(i) != p.model for i in p.gpu_indices):
                continue
            if held & set(p.gpu_indices):
                continue
            change_state(job, JobState.SCHEDULED, now)
            job.node_id = p.node_id
            job.gpu_indices = list(p.gpu_indices)
            held.update(p.gpu_indices)
            gpus = ",".join(str(i) for i in p.gpu_indices)
            events.append(
                {
                    "at": now, "kind": "job.scheduled", "job_id": job.id, "node_id": p.node_id,
                    "message": f"on {name} GPUs {gpus} ({p.model})",
                }
            )  # fmt: skip
            applied.append(job.id)
        if events:
            session.execute(insert(EventRow), events)
    return tuple(applied)


class _Locked:
    """What apply checks placements against, read in batches of ``BATCH`` ids: the placements'
    nodes (locked first, in id order) with their GPUs' models, their jobs (locked next, in id
    order), and the GPUs already held on those nodes."""

    def __init__(self, session: Session, placements: list[Placement]) -> None:
        self.nodes: dict[int, tuple[str, str]] = {}
        """id -> (name, state)"""
        self.models: dict[int, dict[int, str]] = defaultdict(dict)
        """node id -> GPU index -> model"""
        for ids in _batches({p.node_id for p in placements}):
            rows = session.execute(
                select(NodeRow.id, NodeRow.name, NodeRow.state)
                .where(NodeRow.id.in_(ids))
                .order_by(NodeRow.id)
                .with_for_update()
            )
            self.nodes.update((node_id, (name, state)) for node_id, name, state in rows)
            gpus = select(GpuRow.node_id, GpuRow.index, GpuRow.model)
            for node_id, index, model in session.execute(gpus.where(GpuRow.node_id.in_(ids))):
                self.models[node_id][index] = model
        self.jobs: dict[int, JobRow] = {}
        for ids in _batches({p.job for p in placements}):
            jobs = session.scalars(
                select(JobRow)
                .options(load_only(JobRow.state, JobRow.cancel_requested))
                .where(JobRow.id.in_(ids))
                .order_by(JobRow.id)
                .with_for_update()
            )
            self.jobs.update((job.id, job) for job in jobs)
        self.held: dict[int, set[int]] = defaultdict(set)
        """node id -> GPU indices its scheduled and running jobs hold"""
        for ids in _batches(self.nodes):
            holding = select(JobRow.node_id, JobRow.gpu_indices).where(
                JobRow.node_id.in_(ids), JobRow.state.in_(HOLDING)
            )
            for holder, indices in session.execute(holding):
                if holder is not None:
                    self.held[holder].update(indices)


def _batches(ids: Iterable[int]) -> Iterator[list[int]]:
    """``ids`` in ascending order, ``BATCH`` at a time (rows are locked in id order)."""
    ordered = sorted(ids)
    for start in range(0, len(ordered), BATCH):
        yield ordered[start : start + BATCH]
