"""Declared demand: what each project says it will need, per GPU model and time span."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from gpufleet.server.db.engine import Database
from gpufleet.server.db.supply_rows import DemandRow
from gpufleet.server.errors import BadInputError, ForbiddenError, NotFoundError
from gpufleet.server.schemas import Role
from gpufleet.server.schemas_plans import DemandCreate, DemandPublic
from gpufleet.server.services.auth import Principal, require
from gpufleet.server.services.common import canonical_models, load_project


def declare(db: Database, principal: Principal, body: DemandCreate, now: datetime) -> DemandPublic:
    """Admins declare for any project, members for their own."""
    require(principal, Role.ADMIN, Role.MEMBER)
    if principal.role is Role.MEMBER and body.project != principal.project:
        raise ForbiddenError(f"project: members declare demand for {principal.project!r} only")
    models = canonical_models([body.gpu], "gpu")
    if len(models) != 1:
        raise BadInputError(f"gpu: {body.gpu!r} is a family ({', '.join(models)}); name one")
    for name, value in (("start", body.start), ("end", body.end)):
        if value.tzinfo is None:
            raise BadInputError(f"{name}: give a time zone (e.g. 2027-01-04T00:00:00Z)")
    if body.end <= body.start:
        raise BadInputError(f"end: {body.end.isoformat()} is not after start")
    low = body.expected_gpus if body.low_gpus is None else body.low_gpus
    high = body.expected_gpus if body.high_gpus is None else body.high_gpus
    if not low <= body.expected_gpus <= high:
        msg = f"low_gpus <= expected_gpus <= high_gpus does not hold ({low}, {body.expected_gpus}"
        raise BadInputError(msg + f", {high})")
    with db.transaction() as session:
        project = load_project(session, body.project)
        row = DemandRow(
            project=project,
            gpu=models[0],
            start=body.start,
            end=body.end,
            expected_gpus=body.expected_gpus,
            low_gpus=low,
            high_gpus=high,
            note=body.note,
            created_at=now,
        )
        session.add(row)
        session.flush()
        return public(row)


def list_demand(db: Database, principal: Principal) -> list[DemandPublic]:
    require(principal, Role.ADMIN, Role.MEMBER)
    with db.transaction() as session:
        rows = session.scalars(select(DemandRow).order_by(DemandRow.id)).all()
        return [
            public(r)
            for r in rows
            if principal.role is Role.ADMIN or r.project.name == principal.project
        ]


def delete(db: Database, principal: Principal, demand_id: int) -> None:
    require(principal, Role.ADMIN, Role.MEMBER)
    with db.transaction() as session:
        row = session.get(DemandRow, demand_id)
        if row is None or (principal.role is Role.MEMBER and row.project.name != principal.project):
            raise NotFoundError(f"demand {demand_id} not found")
        session.delete(row)


def public(row: DemandRow) -> DemandPublic:
    return DemandPublic(
        id=row.id,
        project=row.project.name,
        gpu=row.gpu,
        start=row.start,
        end=row.end,
        expected_gpus=row.expected_gpus,
        low_gpus=row.low_gpus,
        high_gpus=row.high_gpus,
        note=row.note,
    )
