from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gpufleet.server.deps import DbDep
from gpufleet.server.metrics import CONTENT_TYPE, Metrics
from gpufleet.server.services.stats import fleet_stats

router = APIRouter(tags=["metrics"])


@router.get("/metrics")
def metrics(request: Request, db: DbDep) -> Response:
    registry: Metrics = request.app.state.metrics
    registry.update(fleet_stats(db))
    return Response(registry.render(), media_type=CONTENT_TYPE)
