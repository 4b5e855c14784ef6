"""Accounting from the database: usage cost per project and day, the chargeback CSV, idle cost
per supplier and GPU model, monthly budgets and their alerts. The arithmetic is
``domain.accounting``'s; this module loads the intervals.

* Usage comes from allocations overlapping the window, clipped to it; an open allocation runs
  until the window's end (or now, whichever is first).
* Paid capacity: each contracted node (one with a price: delivered by a purchase order, or
  priced by hand) is paid for every GPU it was ordered with (a GPU that failed acceptance or
  never showed up included) from the time it joined the fleet.
* Members see only their own project's usage; idle cost and budgets of all projects are for
  admins.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from gpufleet.domain.accounting import (
    BUDGET_THRESHOLDS,
    CostRow,
    Paid,
    Usage,
    cost_rows,
    crossed_thresholds,
    idle_rows,
    month_of,
    totals_by,
)
from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import NodeRow, ProjectRow
from gpufleet.server.db.supply_rows import AllocationRow, BudgetAlertRow
from gpufleet.server.errors import BadInputError, ForbiddenError
from gpufleet.server.schemas import Role
from gpufleet.server.schemas_costs import (
    BudgetPublic,
    CostReport,
    CostRowPublic,
    CostTotal,
    IdleReport,
    IdleRowPublic,
)
from gpufleet.server.services.auth import Principal, require
from gpufleet.server.services.common import load_project, record

MAX_WINDOW = timedelta(days=366)


def window(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """``[since, until)``, by default the last 30 days up to now; ``BadInputError`` if empty,
    longer than a year, or naive."""
    until = until or now
    since = since or until - timedelta(days=30)
    for name, value in (("since", since), ("until", until)):
        if value.tzinfo is None:
            raise BadInputError(f"{name}: give a time zone (e.g. 2027-01-01T00:00:00Z)")
    if since >= until:
        raise BadInputError(f"since: {since.isoformat()} is not before until {until.isoformat()}")
    if until - since > MAX_WINDOW:
        raise BadInputError("since: a report covers at most 366 days")
    return since.astimezone(UTC), until.astimezone(UTC)


def usages(
    session: Session, since: datetime, until: datetime, now: datetime, project: str | None = None
) -> list[Usage]:
    query = select(AllocationRow).where(
        AllocationRow.started_at < until,
        (AllocationRow.ended_at.is_(None)) | (AllocationRow.ended_at > since),
    )
    if project is not None:
        query = query.where(AllocationRow.project_id == load_project(session, project).id)
    out = []
    for row in session.scalars(query.order_by(AllocationRow.id)):
        end = min(row.ended_at or now, until)
        start = max(row.started_at, since)
        if end > start:
            out.append(
                Usage(
                    project=row.project.name,
                    job=row.job_id,
                    node=row.node_name,
                    supplier=row.supplier,
                    contract=row.contract,
                    gpu=row.gpu,
                    gpus=row.gpus,
                    start=start,
                    end=end,
                    price_usd_per_gpu_hour=row.price_usd_per_gpu_hour,
                )
            )
    return out


def _scope(principal: Principal, project: str | None) -> str | None:
    """Members see their own project only."""
    if principal.role is Role.MEMBER:
        if project not in (None, principal.project):
            raise ForbiddenError(f"project: members see only project {principal.project!r}")
        return principal.project
    require(principal, Role.ADMIN, Role.MEMBER)
    return project


def cost_report(
    db: Database,
    principal: Principal,
    now: datetime,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    project: str | None = None,
) -> CostReport:
    project = _scope(principal, project)
    since, until = window(since, until, now)
    with db.transaction() as session:
        rows = cost_rows(usages(session, since, until, now, project))

    def totals(key: str) -> dict[str, CostTotal]:
        return {
            name: CostTotal(gpu_hours=h, cost_usd=c)
            for name, (h, c) in totals_by(rows, key).items()
        }

    return CostReport(
        since=since,
        until=until,
        rows=[_public(r) for r in rows],
        by_project=totals("project"),
        by_supplier=totals("supplier"),
        total=CostTotal(
            gpu_hours=sum(r.gpu_hours for r in rows), cost_usd=sum(r.cost_usd for r in rows)
        ),
        unpriced_gpu_hours=sum(r.unpriced_gpu_hours for r in rows),
    )


def _public(row: CostRow) -> CostRowPublic:
    return CostRowPublic(**dataclasses.asdict(row))


CSV_COLUMNS = ("day", "project", "supplier", "contract", "gpu", "gpu_hours", "cost_usd")


def chargeback_csv(report: CostReport) -> str:
    """One line per day, project, supplier, contract and GPU model (what finance imports)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        writer.writerow(
            [
                row.day.isoformat(),
                row.project,
                row.supplier or "",
                row.contract or "",
                row.gpu,
                f"{row.gpu_hours:.4f}",
                f"{row.cost_usd:.2f}",
            ]
        )
    return buffer.getvalue()


def paid(session: Session, since: datetime, until: datetime) -> list[Paid]:
    """Contracted nodes' GPUs, paid from joining the fleet, clipped to the window."""
    out = []
    for node in session.scalars(
        select(NodeRow)
        .where(NodeRow.price_usd_per_gpu_hour.is_not(None))
        .options(selectinload(NodeRow.gpus), selectinload(NodeRow.purchase_order))
        .order_by(NodeRow.id)
    ):
        start = max(node.registered_at, since)
        if until <= start:
            continue
        order = node.purchase_order
        ordered = order.gpus_per_unit if order is not None else 0
        gpu = order.gpu if order is not None else min((g.model for g in node.gpus), default="?")
        out.append(
            Paid(
                node=node.name,
                supplier=node.supplier,
                gpu=gpu,
                gpus=max(len(node.gpus), ordered),
                start=start,
                end=until,
                price_usd_per_gpu_hour=node.price_usd_per_gpu_hour,
            )
        )
    return out


def idle_report(
    db: Database,
    principal: Principal,
    now: datetime,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> IdleReport:
    require(principal, Role.ADMIN)
    since, until = window(since, until, now)
    until = min(until, now)
    with db.transaction() as session:
        rows = idle_rows(paid(session, since, until), usages(session, since, until, now))
    return IdleReport(
        since=since,
        until=until,
        rows=[
            IdleRowPublic(
                supplier=r.supplier,
                gpu=r.gpu,
                paid_gpu_hours=r.paid_gpu_hours,
                allocated_gpu_hours=r.allocated_gpu_hours,
                idle_gpu_hours=r.idle_gpu_hours,
                paid_usd=r.paid_usd,
                idle_usd=r.idle_usd,
                utilisation=r.utilisation,
            )
            for r in rows
        ],
    )


def _month_start(now: datetime) -> datetime:
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def budgets(db: Database, principal: Principal, now: datetime) -> list[BudgetPublic]:
    """This month's spend of every project (members: their own) against its budget."""
    scope = _scope(principal, None)
    month = month_of(now.date())
    since = _month_start(now)
    with db.transaction() as session:
        projects = session.scalars(select(ProjectRow).order_by(ProjectRow.name)).all()
        spent = _spend(usages(session, since, now, now) if now > since else [])
        alerts = _alerts(session, month)
        return [
            BudgetPublic(
                project=p.name,
                month=month,
                budget_usd=p.budget_usd,
                spent_usd=spent.get(p.name, 0.0),
                fraction=(spent.get(p.name, 0.0) / p.budget_usd if p.budget_usd else None),
                alerts=sorted(alerts.get(p.id, [])),
            )
            for p in projects
            if scope is None or p.name == scope
        ]


def _spend(items: Iterable[Usage]) -> dict[str, float]:
    out: dict[str, float] = {}
    for usage in items:
        out[usage.project] = out.get(usage.project, 0.0) + usage.cost_usd
    return out


def _alerts(session: Session, month: str) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for row in session.scalars(select(BudgetAlertRow).where(BudgetAlertRow.month == month)):
        out.setdefault(row.project_id, []).append(row.threshold)
    return out


def check_budgets(db: Database, now: datetime) -> list[tuple[str, float]]:
    """Raise each budget alert (80%, 100% of the month's budget) once per project and month:
    a ``budget.alert`` event and a row. Returns the (project, threshold) pairs raised now."""
    month = month_of(now.date())
    since = _month_start(now)
    raised: list[tuple[str, float]] = []
    with db.transaction() as session:
        projects = session.scalars(
            select(ProjectRow).where(ProjectRow.budget_usd.is_not(None)).order_by(ProjectRow.id)
        ).all()
        if not projects:
            return raised
        spent = _spend(usages(session, since, now, now) if now > since else [])
        done = _alerts(session, month)
        for project in projects:
            amount = spent.get(project.name, 0.0)
            for threshold in crossed_thresholds(amount, project.budget_usd, BUDGET_THRESHOLDS):
                if threshold in done.get(project.id, []):
                    continue
                session.add(
                    BudgetAlertRow(
                        project_id=project.id,
                        month=month,
                        threshold=threshold,
                        at=now,
                        spent_usd=amount,
                        budget_usd=project.budget_usd or 0.0,
                    )
                )
                message = (
                    f"project {project.name}: ${amount:,.2f} spent in {month}, "
                    f"{threshold:.0%} of its ${project.budget_usd or 0:,.2f} budget"
                )
                record(session, now, "budget.alert", message)
                raised.append((project.name, threshold))
    return raised
