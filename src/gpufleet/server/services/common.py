"""What several services share: the GPU-model rules, job state changes, events, row mapping."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from gpufleet.catalog.gpus import UnknownGpuError, gpu_table
from gpufleet.domain.fleet import Acceptance, NodeState, shown_state
from gpufleet.domain.job import JobState, TransitionError, transition
from gpufleet.server.db.rows import EventRow, JobRow, NodeRow, ProjectRow
from gpufleet.server.errors import BadInputError, ConflictError, NotFoundError
from gpufleet.server.schemas import INT32_MAX, GpuPublic, JobPublic, NodePublic
from gpufleet.server.services.allocations import close_allocations

HOLDING = (JobState.SCHEDULED.value, JobState.RUNNING.value)
"""Job states that hold GPUs."""


def canonical_models(names: Iterable[str], field: str) -> list[str]:
    """Canonical model ids for user-given names (aliases, or families meaning every member);
    ``BadInputError`` naming ``field`` for an unknown one."""
    table = gpu_table()
    ids: set[str] = set()
    for name in names:
        try:
            ids |= table.matching(name)
        except UnknownGpuError as error:
            raise BadInputError(f"{field}: {error}") from None
    return sorted(ids)


def reported_model(name: str, memory_gib: float) -> str:
    """The canonical id of a GPU name an agent reports (refined by its memory), or the name as
    reported when the GPU table does not know it (it can still run jobs that allow any model)."""
    table = gpu_table()
    model = table.resolve(name)
    if model is None:
        return name.strip()
    return table.refine(model, name=name, memory_gib=memory_gib or None).id


def check_transition(row: JobRow, target: JobState) -> JobState:
    """``target`` if the job state machine allows the job to move there, else ``ConflictError``."""
    try:
        return transition(JobState(row.state), target)
    except TransitionError as error:
        raise ConflictError(f"job {row.id}: {error}") from None


def change_state(row: JobRow, target: JobState, now: datetime) -> None:
    """Move a job through the state machine (``domain.job.transition``), keeping its
    timestamps and allocation consistent; ``ConflictError`` if the machine refuses."""
    state = check_transition(row, target)
    if JobState(row.state).holds_gpus and not state.holds_gpus:
        session = object_session(row)
        if session is not None:
            close_allocations(session, row.id, now)
    row.state = state.value
    if state is JobState.SCHEDULED:
        row.scheduled_at = now
    elif state is JobState.RUNNING:
        row.started_at = now
        row.seen_running_at = now
    elif state is JobState.PENDING:
        row.node = None  # the relationship, not only the key: both must read None at once
        row.node_id = None
        row.gpu_indices = []
        row.scheduled_at = None
        row.started_at = None
        row.seen_running_at = None
    elif state.final:
        row.finished_at = now


def requeue(session: Session, row: JobRow, now: datetime, why: str) -> None:
    """A job that held GPUs goes back to pending (``attempts += 1``) — or is cancelled, if a
    cancel was requested meanwhile."""
    node_id = row.node_id
    if row.cancel_requested:
        change_state(row, JobState.CANCELLED, now)
        record(session, now, "job.cancelled", why, job_id=row.id, node_id=node_id)
        return
    change_state(row, JobState.PENDING, now)
    row.attempts += 1
    record(session, now, "job.requeued", why, job_id=row.id, node_id=node_id)


def record(
    session: Session,
    now: datetime,
    kind: str,
    message: str,
    *,
    job_id: int | None = None,
    node_id: int | None = None,
) -> None:
    session.add(EventRow(at=now, kind=kind, job_id=job_id, node_id=node_id, message=message))


def load_job(session: Session, job_id: int, *, lock: bool = False) -> JobRow:
    if not 1 <= job_id <= INT32_MAX:  # no such row; and the database could not compare it
        raise NotFoundError(f"job {job_id} not found")
    query = select(JobRow).where(JobRow.id == job_id)
    if lock:
        query = query.with_for_update(of=JobRow)
    row = session.scalar(query)
    if row is None:
        raise NotFoundError(f"job {job_id} not found")
    return row


def load_project(session: Session, name: str, field: str = "project") -> ProjectRow:
    row = None
    if "\x00" not in name:  # a name with NUL cannot exist, and PostgreSQL refuses to compare one
        row = session.scalar(select(ProjectRow).where(ProjectRow.name == name))
    if row is None:
        raise BadInputError(f"{field}: unknown project {name!r}")
    return row


def job_public(row: JobRow) -> JobPublic:
    return JobPublic(
        id=row.id,
        project=row.project.name,
        name=row.name,
        command=list(row.command),
        gpus=row.gpus,
        gpu_models=list(row.gpu_models),
        priority=row.priority,
        state=JobState(row.state),
        node=row.node.name if row.node is not None else None,
        gpu_indices=list(row.gpu_indices),
        exit_code=row.exit_code,
        submitted_at=row.submitted_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        attempts=row.attempts,
        time_limit_s=row.time_limit_s,
    )


def node_public(row: NodeRow) -> NodePublic:
    acceptance = Acceptance(row.acceptance)
    return NodePublic(
        id=row.id,
        name=row.name,
        state=shown_state(NodeState(row.state), acceptance),
        simulated=row.simulated,
        gpus=[
            GpuPublic(
                index=g.index,
                model=g.model,
                memory_gib=g.memory_gib,
                utilisation_pct=g.utilisation_pct,
                memory_used_gib=g.memory_used_gib,
                temperature_c=g.temperature_c,
                power_w=g.power_w,
                simulated=g.simulated,
                acceptance=Acceptance(g.acceptance),
                acceptance_note=g.acceptance_note,
            )
            for g in row.gpus
        ],
        last_heartbeat=row.last_heartbeat,
        acceptance=acceptance,
        supplier=row.supplier,
        purchase_order=row.purchase_order_id,
        price_usd_per_gpu_hour=row.price_usd_per_gpu_hour,
    )
