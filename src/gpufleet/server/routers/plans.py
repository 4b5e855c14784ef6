"""Declared demand and procurement plans (with their HTML report)."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import HTMLResponse

from gpufleet.server.deps import DbDep, IdPath, NowDep, PrincipalDep, ProvisionerDep
from gpufleet.server.schemas import Empty
from gpufleet.server.schemas_plans import (
    DemandCreate,
    DemandPublic,
    PlanAccepted,
    PlanCreate,
    PlanPublic,
)
from gpufleet.server.services import demand, plans

router = APIRouter(tags=["plans"])


@router.get("/demand")
def list_demand(db: DbDep, principal: PrincipalDep) -> list[DemandPublic]:
    return demand.list_demand(db, principal)


@router.post("/demand", status_code=status.HTTP_201_CREATED)
def declare_demand(
    body: DemandCreate, db: DbDep, now: NowDep, principal: PrincipalDep
) -> DemandPublic:
    return demand.declare(db, principal, body, now)


@router.delete("/demand/{demand_id}")
def delete_demand(demand_id: IdPath, db: DbDep, principal: PrincipalDep) -> Empty:
    demand.delete(db, principal, demand_id)
    return Empty()


@router.get("/plans")
def list_plans(db: DbDep, principal: PrincipalDep) -> list[PlanPublic]:
    return plans.list_plans(db, principal)


@router.post("/plans", status_code=status.HTTP_201_CREATED)
def create_plan(body: PlanCreate, db: DbDep, now: NowDep, principal: PrincipalDep) -> PlanPublic:
    return plans.create_plan(db, principal, body, now)


@router.get("/plans/{plan_id}")
def get_plan(plan_id: IdPath, db: DbDep, principal: PrincipalDep) -> PlanPublic:
    return plans.get_plan(db, principal, plan_id)


@router.get("/plans/{plan_id}/report", response_class=HTMLResponse)
def plan_report(plan_id: IdPath, db: DbDep, principal: PrincipalDep) -> HTMLResponse:
    return HTMLResponse(plans.plan_report(db, principal, plan_id))


@router.post("/plans/{plan_id}/accept")
def accept_plan(
    plan_id: IdPath, db: DbDep, now: NowDep, principal: PrincipalDep, provisioner: ProvisionerDep
) -> PlanAccepted:
    return plans.accept_plan(db, principal, plan_id, now, provisioner=provisioner)
