from __future__ import annotations

from fastapi import APIRouter

from gpufleet.server.deps import DbDep
from gpufleet.server.schemas import Health
from gpufleet.server.services.health import check

router = APIRouter(tags=["health"])


@router.get("/health")
def health(db: DbDep) -> Health:
    return check(db)
