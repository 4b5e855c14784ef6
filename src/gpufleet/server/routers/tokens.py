from __future__ import annotations

from fastapi import APIRouter, status

from gpufleet.server.deps import DbDep, NowDep, PrincipalDep
from gpufleet.server.schemas import TokenCreate, TokenPublic
from gpufleet.server.services import auth

router = APIRouter(tags=["tokens"])


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, db: DbDep, now: NowDep, principal: PrincipalDep) -> TokenPublic:
    return auth.create_token(db, principal, body, now)
