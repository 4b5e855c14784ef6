"""Suppliers, their offers and their scorecards."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from gpufleet.domain.offer import ContractKind
from gpufleet.server.deps import DbDep, NowDep, PrincipalDep
from gpufleet.server.schemas_costs import ScorecardPublic
from gpufleet.server.schemas_supply import (
    OfferImport,
    OfferImportResult,
    OfferPublic,
    SupplierCreate,
    SupplierPublic,
)
from gpufleet.server.services import scorecards, suppliers

router = APIRouter(tags=["suppliers"])


@router.get("/suppliers")
def list_suppliers(db: DbDep, principal: PrincipalDep) -> list[SupplierPublic]:
    return suppliers.list_suppliers(db, principal)


@router.post("/suppliers", status_code=status.HTTP_201_CREATED)
def create_supplier(
    body: SupplierCreate, db: DbDep, now: NowDep, principal: PrincipalDep
) -> SupplierPublic:
    return suppliers.create_supplier(db, principal, body, now)


@router.put("/suppliers/{name}")
def update_supplier(
    name: str, body: SupplierCreate, db: DbDep, principal: PrincipalDep
) -> SupplierPublic:
    return suppliers.update_supplier(db, principal, name, body)


@router.get("/scorecards")
def list_scorecards(db: DbDep, now: NowDep, principal: PrincipalDep) -> list[ScorecardPublic]:
    return scorecards.scorecards(db, principal, now)


@router.get("/offers")
def list_offers(
    db: DbDep,
    principal: PrincipalDep,
    supplier: str | None = None,
    gpu: Annotated[list[str] | None, Query()] = None,
    contract: ContractKind | None = None,
    limit: Annotated[int, Query(ge=1, le=suppliers.MAX_OFFERS_LISTED)] = 500,
) -> list[OfferPublic]:
    return suppliers.list_offers(
        db, principal, supplier=supplier, gpu=gpu or [], contract=contract, limit=limit
    )


@router.post("/offers/import")
def import_offers(
    body: OfferImport, db: DbDep, now: NowDep, principal: PrincipalDep
) -> OfferImportResult:
    return suppliers.import_offers(db, principal, body, now)
