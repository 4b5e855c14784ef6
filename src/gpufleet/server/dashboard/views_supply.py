"""What the supply-chain pages show (plans, purchase orders, costs and budgets, suppliers), built
from the supply services into frozen values the templates render. Role rules are the services':
a member's costs and budgets cover its own project; idle cost is for admins, and a member's page
says so instead of failing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from gpufleet.domain import scorecard
from gpufleet.domain.purchase_order import PoState
from gpufleet.planning.study import BOUND, OURS
from gpufleet.server.dashboard.charts import BarChart, bar_chart
from gpufleet.server.db.engine import Database
from gpufleet.server.errors import BadInputError, ForbiddenError
from gpufleet.server.provisioning import Provisioner
from gpufleet.server.schemas import NodePublic, Role
from gpufleet.server.schemas_costs import (
    BudgetPublic,
    CostReport,
    CostTotal,
    IdleReport,
    ScorecardPublic,
)
from gpufleet.server.schemas_plans import PlanPublic
from gpufleet.server.schemas_supply import PurchaseOrderPublic, SupplierPublic
from gpufleet.server.services import accounting, nodes, orders, plans, scorecards, suppliers
from gpufleet.server.services.auth import Principal

ORDERS_SHOWN = 200
"""Newest purchase orders listed on ``/orders``."""


# ------------------------------------------------------------------------------------- plans
def plan_list(db: Database, principal: Principal) -> list[PlanPublic]:
    return plans.list_plans(db, principal)


@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluation:
    """One strategy judged on the plan's out-of-sample scenarios."""

    name: str
    kind: str
    """``ours``, ``baseline`` or ``bound`` (perfect foresight)."""
    expected_cost_usd: float | None
    p95_cost_usd: float | None
    shortfall_probability: float | None
    vs_ours: float | None
    """Expected cost over ours, minus one; ``None`` for ours (or without both costs)."""


def _evaluations(rows: list[dict[str, Any]]) -> tuple[Evaluation, ...]:
    ours = next((r.get("expected_cost_usd") for r in rows if r.get("name") == OURS), None)
    out = []
    for row in rows:
        name = str(row.get("name", "?"))
        cost = row.get("expected_cost_usd")
        kind = "ours" if name == OURS else "bound" if name == BOUND else "baseline"
        out.append(
            Evaluation(
                name=name,
                kind=kind,
                expected_cost_usd=cost,
                p95_cost_usd=row.get("p95_cost_usd"),
                shortfall_probability=row.get("shortfall_probability"),
                vs_ours=cost / ours - 1 if kind != "ours" and cost is not None and ours else None,
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanDetail:
    plan: PlanPublic
    evaluations: tuple[Evaluation, ...]
    reliability: tuple[tuple[str, float], ...]
    """Per supplier, by name."""
    purchase_orders: tuple[PurchaseOrderPublic, ...]
    """The orders accepting it made."""
    can_accept: bool
    """A proposed plan, and the viewer may accept it (an admin)."""


def plan_detail(db: Database, principal: Principal, plan_id: int) -> PlanDetail:
    plan = plans.get_plan(db, principal, plan_id)
    return PlanDetail(
        plan=plan,
        evaluations=_evaluations(plan.evaluations),
        reliability=tuple(sorted(plan.reliability.items())),
        purchase_orders=tuple(orders.get_order(db, principal, i) for i in plan.purchase_orders),
        can_accept=plan.state == "proposed" and principal.role is Role.ADMIN,
    )


def plan_report(db: Database, principal: Principal, plan_id: int) -> str:
    """The planner's self-contained HTML report (served with its own, stricter headers)."""
    return plans.plan_report(db, principal, plan_id)


def accept_plan(
    db: Database,
    principal: Principal,
    plan_id: int,
    now: datetime,
    provisioner: Provisioner | None,
) -> None:
    plans.accept_plan(db, principal, plan_id, now, provisioner=provisioner)


# ------------------------------------------------------------------------------------ orders
def is_late(order: PurchaseOrderPublic, now: datetime) -> bool:
    """Delivered after its promised date, or still undelivered past it (as the scorecards
    count; a cancelled order is never late)."""
    if order.state is PoState.CANCELLED:
        return False
    return scorecard.is_late(order.promised_at, order.delivered_at, now)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRow:
    order: PurchaseOrderPublic
    late: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderList:
    orders: tuple[OrderRow, ...]
    state: PoState | None
    limit: int
    states: tuple[str, ...] = tuple(s.value for s in PoState)

    @property
    def query(self) -> str:
        return f"?{urlencode({'state': self.state.value})}" if self.state else ""


def parse_order_state(value: str) -> PoState | None:
    """A purchase-order state from a form field; empty means any."""
    if not value:
        return None
    try:
        return PoState(value)
    except ValueError:
        known = ", ".join(s.value for s in PoState)
        msg = f"state: unknown purchase order state {value!r} (one of {known})"
        raise BadInputError(msg) from None


def order_list(db: Database, principal: Principal, now: datetime, *, state: str) -> OrderList:
    wanted = parse_order_state(state)
    listed = orders.list_orders(db, principal, state=wanted, limit=ORDERS_SHOWN)
    return OrderList(
        orders=tuple(OrderRow(order=o, late=is_late(o, now)) for o in listed),
        state=wanted,
        limit=ORDERS_SHOWN,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderDetail:
    order: PurchaseOrderPublic
    late: bool
    nodes: tuple[NodePublic, ...]
    """Its delivered nodes (their state and acceptance now)."""


def order_detail(db: Database, principal: Principal, order_id: int, now: datetime) -> OrderDetail:
    order = orders.get_order(db, principal, order_id)
    delivered = tuple(n for n in nodes.list_nodes(db, principal) if n.purchase_order == order.id)
    return OrderDetail(order=order, late=is_late(order, now), nodes=delivered)


# ------------------------------------------------------------------------------------- costs
def parse_edge(value: str, field: str, *, end: bool = False) -> datetime | None:
    """A window edge from a query parameter: a date (``2026-01-05``: its start, or for the
    window's ``end`` the next day's start, so the day is included) or an ISO time (without a
    zone: UTC); empty: the service's default."""
    text = value.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        start = datetime.combine(day, time(), tzinfo=UTC)
        return start + timedelta(days=1) if end else start
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        msg = f"{field}: {text!r} is not a date (2026-01-05) or time (2026-01-05T09:00Z)"
        raise BadInputError(msg) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Costs:
    report: CostReport
    chart: BarChart | None
    """Dollars per project."""
    idle: IdleReport | None
    """``None``: the viewer may not see it (members)."""
    budgets: tuple[BudgetPublic, ...]
    scope: str | None
    """The member's project its figures cover; ``None``: every project."""
    since: str
    until: str
    """The window as asked for (empty: the default, the last 30 days)."""

    @property
    def query(self) -> str:
        """The window as a query string, empty for the default one."""
        kept = {k: v for k, v in (("since", self.since), ("until", self.until)) if v}
        return f"?{urlencode(kept)}" if kept else ""

    @property
    def suppliers(self) -> tuple[tuple[str, CostTotal], ...]:
        return tuple(self.report.by_supplier.items())


def cost_window(since: str, until: str) -> tuple[datetime | None, datetime | None]:
    return parse_edge(since, "since"), parse_edge(until, "until", end=True)


def costs(db: Database, principal: Principal, now: datetime, *, since: str, until: str) -> Costs:
    start, end = cost_window(since, until)
    report = accounting.cost_report(db, principal, now, since=start, until=end)
    try:
        idle: IdleReport | None = accounting.idle_report(
            db, principal, now, since=report.since, until=report.until
        )
    except ForbiddenError:
        idle = None
    by_project = [(name, total.cost_usd) for name, total in report.by_project.items()]
    return Costs(
        report=report,
        chart=bar_chart(by_project),
        idle=idle,
        budgets=tuple(accounting.budgets(db, principal, now)),
        scope=principal.project if principal.role is Role.MEMBER else None,
        since=since.strip(),
        until=until.strip(),
    )


def chargeback_csv(
    db: Database, principal: Principal, now: datetime, *, since: str, until: str
) -> str:
    start, end = cost_window(since, until)
    report = accounting.cost_report(db, principal, now, since=start, until=end)
    return accounting.chargeback_csv(report)


# --------------------------------------------------------------------------------- suppliers
@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierCard:
    supplier: SupplierPublic
    scorecard: ScorecardPublic | None


def supplier_cards(db: Database, principal: Principal, now: datetime) -> list[SupplierCard]:
    cards = {c.supplier: c for c in scorecards.scorecards(db, principal, now)}
    return [
        SupplierCard(supplier=s, scorecard=cards.get(s.name))
        for s in suppliers.list_suppliers(db, principal)
    ]
