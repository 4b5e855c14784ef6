from __future__ import annotations

from fastapi import APIRouter

from gpufleet.server.deps import DbDep, PrincipalDep
from gpufleet.server.schemas import NodePublic
from gpufleet.server.services import nodes

router = APIRouter(tags=["nodes"])


@router.get("/nodes")
def list_nodes(db: DbDep, principal: PrincipalDep) -> list[NodePublic]:
    return nodes.list_nodes(db, principal)
