"""The scheduler tick's second half: first-fit placement of the policy's ``Start`` actions on
nodes (``FreeGpus``, ``place``) and applying them under row locks (``apply``); the rules are in
``scheduler.py``'s docstring."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, load_only

from gpufleet.domain.fleet import SCHEDULABLE, Node, NodeState
from gpufleet.domain.job import JobState
from gpufleet.scheduling.core import Preempt, Start
from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import EventRow, GpuRow, JobRow, NodeRow
from gpufleet.server.db.supply_rows import AllocationRow
from gpufleet.server.services.common import HOLDING, change_state

if TYPE_CHECKING:  # scheduler.py imports this module
    from gpufleet.server.services.scheduler import Snapshot

BATCH = 1000
"""Ids per ``IN (...)`` in apply: far below SQLite's and PostgreSQL's bound-parameter limits."""


@dataclass(frozen=True, slots=True)
class Placement:
    job: int
    node_id: int
    model: str
    gpu_indices: tuple[int, ...]


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
    allocations: list[dict[str, object]] = []
    up, pending = NodeState.UP.value, JobState.PENDING.value
    with db.transaction() as session:
        locked = _Locked(session, placements)
        for p in placements:
            node = locked.nodes.get(p.node_id)
            job = locked.jobs.get(p.job)
            if node is None or node.state != up or node.acceptance not in SCHEDULABLE:
                continue
            if job is None or job.state != pending or job.cancel_requested:
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
                    "message": f"on {node.name} GPUs {gpus} ({p.model})",
                }
            )  # fmt: skip
            allocations.append(
                {
                    "job_id": job.id, "project_id": job.project_id, "node_id": p.node_id,
                    "node_name": node.name, "gpu": p.model, "gpus": len(p.gpu_indices),
                    "gpu_indices": list(p.gpu_indices), "supplier": node.supplier,
                    "contract": node.contract, "price_usd_per_gpu_hour": node.price,
                    "started_at": now,
                }
            )  # fmt: skip
            applied.append(job.id)
        if events:
            session.execute(insert(EventRow), events)
            session.execute(insert(AllocationRow), allocations)
    return tuple(applied)


@dataclass(frozen=True, slots=True)
class _Node:
    name: str
    state: str
    acceptance: str
    supplier: str | None
    contract: str | None
    price: float | None


class _Locked:
    """What apply checks placements against, read in batches of ``BATCH`` ids: the placements'
    nodes (locked first, in id order) with their GPUs' models, their jobs (locked next, in id
    order), and the GPUs already held on those nodes."""

    def __init__(self, session: Session, placements: list[Placement]) -> None:
        self.nodes: dict[int, _Node] = {}
        self.models: dict[int, dict[int, str]] = defaultdict(dict)
        """node id -> index -> model, of the GPUs the scheduler may use"""
        for ids in _batches({p.node_id for p in placements}):
            rows = session.execute(
                select(
                    NodeRow.id,
                    NodeRow.name,
                    NodeRow.state,
                    NodeRow.acceptance,
                    NodeRow.supplier,
                    NodeRow.contract,
                    NodeRow.price_usd_per_gpu_hour,
                )
                .where(NodeRow.id.in_(ids))
                .order_by(NodeRow.id)
                .with_for_update()
            )
            self.nodes.update((row[0], _Node(*row[1:])) for row in rows)
            gpus = select(GpuRow.node_id, GpuRow.index, GpuRow.model).where(
                GpuRow.node_id.in_(ids), GpuRow.acceptance.in_(SCHEDULABLE)
            )
            for node_id, index, model in session.execute(gpus):
                self.models[node_id][index] = model
        self.jobs: dict[int, JobRow] = {}
        for ids in _batches({p.job for p in placements}):
            jobs = session.scalars(
                select(JobRow)
                .options(load_only(JobRow.state, JobRow.cancel_requested, JobRow.project_id))
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
