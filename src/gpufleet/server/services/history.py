"""What happened: the event log (``job.submitted``, ``node.lost``, ``budget.alert``, ...) and
allocations (which GPUs each job held, when, at what price). Admins see everything; a member
sees its own project's jobs' events and allocations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import EventRow, JobRow, ProjectRow
from gpufleet.server.db.supply_rows import AllocationRow
from gpufleet.server.schemas import Role
from gpufleet.server.schemas_costs import AllocationPublic, EventPublic
from gpufleet.server.services.auth import Principal, require

MAX_LISTED = 1000


def list_events(
    db: Database,
    principal: Principal,
    *,
    kind: str | None = None,
    job: int | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[EventPublic]:
    """Newest first; ``kind`` matches a prefix (``job.`` or ``node.lost``)."""
    require(principal, Role.ADMIN, Role.MEMBER)
    with db.transaction() as session:
        query = select(EventRow).order_by(EventRow.id.desc()).limit(min(limit, MAX_LISTED))
        if kind:
            query = query.where(EventRow.kind.startswith(kind))
        if job is not None:
            query = query.where(EventRow.job_id == job)
        if since is not None:
            query = query.where(EventRow.at >= since)
        if principal.role is Role.MEMBER:
            query = (
                query.join(JobRow, EventRow.job_id == JobRow.id)
                .join(ProjectRow, JobRow.project_id == ProjectRow.id)
                .where(ProjectRow.name == principal.project)
            )
        return [
            EventPublic(
                id=e.id, at=e.at, kind=e.kind, job=e.job_id, node=e.node_id, message=e.message
            )
            for e in session.scalars(query)
        ]


def list_allocations(
    db: Database,
    principal: Principal,
    *,
    job: int | None = None,
    project: str | None = None,
    limit: int = 200,
) -> list[AllocationPublic]:
    """Newest first."""
    require(principal, Role.ADMIN, Role.MEMBER)
    if principal.role is Role.MEMBER:
        project = principal.project
    with db.transaction() as session:
        query = select(AllocationRow).order_by(AllocationRow.id.desc())
        if job is not None:
            query = query.where(AllocationRow.job_id == job)
        if project is not None:
            query = query.join(AllocationRow.project).where(ProjectRow.name == project)
        rows = session.scalars(query.limit(min(limit, MAX_LISTED))).all()
        return [
            AllocationPublic(
                id=a.id,
                job=a.job_id,
                project=a.project.name,
                node=a.node_name,
                gpu=a.gpu,
                gpu_indices=list(a.gpu_indices),
                supplier=a.supplier,
                contract=a.contract,
                price_usd_per_gpu_hour=a.price_usd_per_gpu_hour,
                started_at=a.started_at,
                ended_at=a.ended_at,
            )
            for a in rows
        ]
