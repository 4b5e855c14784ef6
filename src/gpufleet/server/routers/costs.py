"""Accounting: usage cost, the chargeback CSV, idle cost, budgets."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from gpufleet.server.deps import DbDep, NowDep, PrincipalDep
from gpufleet.server.schemas_costs import BudgetPublic, CostReport, IdleReport
from gpufleet.server.services import accounting

router = APIRouter(tags=["costs"])


@router.get("/costs")
def costs(
    db: DbDep,
    now: NowDep,
    principal: PrincipalDep,
    since: datetime | None = None,
    until: datetime | None = None,
    project: str | None = None,
) -> CostReport:
    return accounting.cost_report(db, principal, now, since=since, until=until, project=project)


@router.get("/costs/chargeback.csv", response_class=PlainTextResponse)
def chargeback(
    db: DbDep,
    now: NowDep,
    principal: PrincipalDep,
    since: datetime | None = None,
    until: datetime | None = None,
    project: str | None = None,
) -> PlainTextResponse:
    report = accounting.cost_report(db, principal, now, since=since, until=until, project=project)
    return PlainTextResponse(accounting.chargeback_csv(report), media_type="text/csv")


@router.get("/costs/idle")
def idle(
    db: DbDep,
    now: NowDep,
    principal: PrincipalDep,
    since: datetime | None = None,
    until: datetime | None = None,
) -> IdleReport:
    return accounting.idle_report(db, principal, now, since=since, until=until)


@router.get("/budgets")
def budgets(db: DbDep, now: NowDep, principal: PrincipalDep) -> list[BudgetPublic]:
    return accounting.budgets(db, principal, now)
