"""Jobs as users see them: submit, list, get, cancel, read logs.

Rules: a member works only in its own project (another project's job is "not found", so ids do
not leak across projects); GPU models are normalised to canonical ids; a gang must fit on one
node of an allowed model that the fleet has (up or lost: a lost node may come back); every
state change goes through the job state machine.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gpufleet.domain.job import JobSpec, JobState
from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import GpuRow, JobLogLineRow, JobRow
from gpufleet.server.errors import BadInputError, ForbiddenError, NotFoundError
from gpufleet.server.schemas import JobCreate, JobPublic, LogLine, LogPage, Role
from gpufleet.server.services.auth import Principal, require
from gpufleet.server.services.common import (
    canonical_models,
    change_state,
    check_transition,
    job_public,
    load_job,
    load_project,
    record,
)

MAX_LIST = 1000
MAX_LOG_LINES = 1000


def submit(db: Database, principal: Principal, body: JobCreate, now: datetime) -> JobPublic:
    require(principal, Role.ADMIN, Role.MEMBER)
    if principal.role is Role.MEMBER and body.project != principal.project:
        raise ForbiddenError(
            f"project: a member of {principal.project!r} cannot submit to {body.project!r}"
        )
    models = canonical_models(body.gpu_models, "gpu_models")
    try:
        spec = JobSpec(
            project=body.project,
            command=tuple(body.command),
            gpus=body.gpus,
            gpu_models=tuple(models),
            priority=body.priority,
            name=body.name,
            time_limit_s=body.time_limit_s,
        )
    except ValueError as error:
        raise BadInputError(str(error)) from None
    with db.transaction() as session:
        project = load_project(session, spec.project)
        _check_fits(session, spec)
        row = JobRow(
            project=project,
            name=spec.name,
            command=list(spec.command),
            gpus=spec.gpus,
            gpu_models=list(spec.gpu_models),
            priority=spec.priority,
            time_limit_s=body.time_limit_s,
            state=JobState.PENDING.value,
            cancel_requested=False,
            attempts=0,
            gpu_indices=[],
            submitted_at=now,
        )
        session.add(row)
        session.flush()
        record(session, now, "job.submitted", f"{principal.user} submitted", job_id=row.id)
        return job_public(row)


def _check_fits(session: Session, spec: JobSpec) -> None:
    """A gang is all on one node and of one model: it must fit the largest such group (counted
    by the database: one number back, not a row per GPU of the fleet)."""
    groups = select(func.count(GpuRow.id).label("gpus")).group_by(GpuRow.node_id, GpuRow.model)
    if spec.gpu_models:
        groups = groups.where(GpuRow.model.in_(spec.gpu_models))
    largest = session.scalar(select(func.max(groups.subquery().c.gpus))) or 0
    if spec.gpus > largest:
        which = ", ".join(spec.gpu_models) if spec.gpu_models else "any model"
        raise BadInputError(
            f"gpus: {spec.gpus} GPUs asked for, but the largest node has {largest} of {which} "
            "(a job's GPUs are all on one node, of one model)"
        )


def list_jobs(
    db: Database,
    principal: Principal,
    *,
    project: str | None = None,
    state: JobState | None = None,
    limit: int = 100,
) -> list[JobPublic]:
    """Newest first; members see their own project only."""
    require(principal, Role.ADMIN, Role.MEMBER)
    if principal.role is Role.MEMBER:
        if project is not None and project != principal.project:
            msg = f"project: a member of {principal.project!r} cannot list {project!r}"
            raise ForbiddenError(msg)
        project = principal.project
    with db.transaction() as session:
        query = select(JobRow).order_by(JobRow.id.desc()).limit(min(limit, MAX_LIST))
        if project is not None:
            query = query.where(JobRow.project_id == load_project(session, project).id)
        if state is not None:
            query = query.where(JobRow.state == state.value)
        return [job_public(row) for row in session.scalars(query)]


def _visible(session: Session, principal: Principal, job_id: int, *, lock: bool = False) -> JobRow:
    require(principal, Role.ADMIN, Role.MEMBER)
    row = load_job(session, job_id, lock=lock)
    if principal.role is Role.MEMBER and row.project.name != principal.project:
        raise NotFoundError(f"job {job_id} not found")
    return row


def get_job(db: Database, principal: Principal, job_id: int) -> JobPublic:
    with db.transaction() as session:
        return job_public(_visible(session, principal, job_id))


def cancel(db: Database, principal: Principal, job_id: int, now: datetime) -> JobPublic:
    """A pending job is cancelled at once; a scheduled or running one is marked, and its agent
    is told to stop it (the agent's ``finished`` report makes it ``cancelled``). Cancelling a
    job already being cancelled changes nothing; a finished one is refused (409)."""
    with db.transaction() as session:
        row = _visible(session, principal, job_id, lock=True)
        state = JobState(row.state)
        if state is JobState.PENDING:
            change_state(row, JobState.CANCELLED, now)
            record(session, now, "job.cancelled", f"{principal.user} cancelled", job_id=row.id)
        elif not row.cancel_requested:
            check_transition(row, JobState.CANCELLED)  # the machine must allow it, later
            row.cancel_requested = True
            record(
                session, now, "job.cancel_requested", f"{principal.user} asked to cancel",
                job_id=row.id, node_id=row.node_id,
            )  # fmt: skip
        return job_public(row)


def read_logs(
    db: Database, principal: Principal, job_id: int, *, after: int = 0, limit: int = MAX_LOG_LINES
) -> LogPage:
    with db.transaction() as session:
        _visible(session, principal, job_id)
        rows = session.scalars(
            select(JobLogLineRow)
            .where(JobLogLineRow.job_id == job_id, JobLogLineRow.seq > after)
            .order_by(JobLogLineRow.seq)
            .limit(min(limit, MAX_LOG_LINES))
        ).all()
        lines = [LogLine(seq=r.seq, text=r.text) for r in rows]
    return LogPage(lines=lines, next=lines[-1].seq if lines else after)
