"""The event log and allocations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from gpufleet.server.deps import DbDep, IdQuery, PrincipalDep
from gpufleet.server.schemas_costs import AllocationPublic, EventPublic
from gpufleet.server.services import history

router = APIRouter(tags=["history"])


@router.get("/events")
def list_events(
    db: DbDep,
    principal: PrincipalDep,
    kind: str | None = None,
    job: IdQuery = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=history.MAX_LISTED)] = 200,
) -> list[EventPublic]:
    return history.list_events(db, principal, kind=kind, job=job, since=since, limit=limit)


@router.get("/allocations")
def list_allocations(
    db: DbDep,
    principal: PrincipalDep,
    job: IdQuery = None,
    project: str | None = None,
    limit: Annotated[int, Query(ge=1, le=history.MAX_LISTED)] = 200,
) -> list[AllocationPublic]:
    return history.list_allocations(db, principal, job=job, project=project, limit=limit)
