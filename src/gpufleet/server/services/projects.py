"""Projects: quotas per GPU model, a budget and a fair-share weight."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gpufleet.domain.job import JobState
from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import JobRow, ProjectRow
from gpufleet.server.errors import BadInputError, ConflictError
from gpufleet.server.schemas import ProjectCreate, ProjectPublic, Role
from gpufleet.server.services.auth import Principal, require
from gpufleet.server.services.common import HOLDING, canonical_models


def create_project(
    db: Database, principal: Principal, body: ProjectCreate, now: datetime
) -> ProjectPublic:
    require(principal, Role.ADMIN)
    quota: dict[str, int] = {}
    for name, gpus in body.quota.items():
        ids = canonical_models([name], "quota")
        if len(ids) != 1:
            msg = f"quota: {name!r} is a GPU family ({', '.join(ids)}); name one model"
            raise BadInputError(msg)
        quota[ids[0]] = quota.get(ids[0], 0) + gpus
    with db.transaction() as session:
        if session.scalar(select(ProjectRow.id).where(ProjectRow.name == body.name)) is not None:
            raise ConflictError(f"name: project {body.name!r} already exists")
        row = ProjectRow(
            name=body.name,
            quota=quota,
            budget_usd=body.budget_usd,
            weight=body.weight,
            created_at=now,
        )
        session.add(row)
        session.flush()
        return _public(session, row)


def list_projects(db: Database, principal: Principal) -> list[ProjectPublic]:
    del principal  # every role may list projects
    with db.transaction() as session:
        rows = session.scalars(select(ProjectRow).order_by(ProjectRow.name)).all()
        return [_public(session, row) for row in rows]


def _public(session: Session, row: ProjectRow) -> ProjectPublic:
    running = session.scalar(
        select(func.coalesce(func.sum(JobRow.gpus), 0)).where(
            JobRow.project_id == row.id, JobRow.state.in_(HOLDING)
        )
    )
    pending = session.scalar(
        select(func.count(JobRow.id)).where(
            JobRow.project_id == row.id, JobRow.state == JobState.PENDING.value
        )
    )
    return ProjectPublic(
        name=row.name,
        quota=dict(row.quota),
        budget_usd=row.budget_usd,
        weight=row.weight,
        running_gpus=int(running or 0),
        pending_jobs=int(pending or 0),
    )
