"""Supplier scorecards from what the fleet recorded: orders (promised vs delivered), acceptance
results, node losses, and what was paid; the measures and the reliability the planner uses are
``domain.scorecard``'s.

* Orders: every submitted order of the supplier (cancelled ones left out).
* GPUs tested: GPUs of its delivered nodes that were judged, plus GPUs of closed orders that
  never showed up (counted failed).
* Node-hours, failures and downtime: its accepted nodes since they joined; a failure is a
  ``node.lost`` event, its downtime lasts until the node's next ``node.up`` or registration.
* Paid: as ``accounting.paid`` (every ordered GPU from joining the fleet, until now).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpufleet.domain.accounting import Paid
from gpufleet.domain.fleet import Acceptance
from gpufleet.domain.purchase_order import PoState
from gpufleet.domain.scorecard import OrderRecord, Scorecard, SupplierRecord, score
from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import EventRow, NodeRow
from gpufleet.server.db.supply_rows import PurchaseOrderRow, SupplierRow
from gpufleet.server.schemas_costs import ScorecardPublic
from gpufleet.server.services.accounting import paid
from gpufleet.server.services.auth import Principal

JUDGED = (Acceptance.PASSED.value, Acceptance.FAILED.value)
BACK_UP = ("node.up", "node.reregistered", "node.registered")


def scorecards(db: Database, principal: Principal, now: datetime) -> list[ScorecardPublic]:
    del principal  # every role may read scorecards
    return [_public(card) for card in compute(db, now)]


def compute(db: Database, now: datetime) -> list[Scorecard]:
    with db.transaction() as session:
        suppliers = session.scalars(select(SupplierRow).order_by(SupplierRow.name)).all()
        bills: dict[str | None, list[Paid]] = defaultdict(list)
        for item in paid(session, datetime.min.replace(tzinfo=now.tzinfo), now):
            bills[item.supplier].append(item)
        return [score(_record(session, s.name, now, bills[s.name]), now) for s in suppliers]


def _record(session: Session, supplier: str, now: datetime, bills: list[Paid]) -> SupplierRecord:
    orders = session.scalars(
        select(PurchaseOrderRow)
        .join(PurchaseOrderRow.supplier)
        .where(SupplierRow.name == supplier, PurchaseOrderRow.submitted_at.is_not(None))
        .where(PurchaseOrderRow.state != PoState.CANCELLED.value)
    ).all()
    nodes = session.scalars(select(NodeRow).where(NodeRow.supplier == supplier)).all()
    tested = sum(1 for n in nodes for g in n.gpus if g.acceptance in JUDGED)
    failed = sum(1 for n in nodes for g in n.gpus if g.acceptance == Acceptance.FAILED.value)
    for order in orders:
        if PoState(order.state) in (PoState.ACCEPTED, PoState.REJECTED):
            registered = sum(len(n.gpus) for n in nodes if n.purchase_order_id == order.id)
            missing = max(0, order.units * order.gpus_per_unit - registered)
            tested += missing
            failed += missing
    accepted = [n for n in nodes if n.acceptance == Acceptance.PASSED.value]
    node_hours = down_hours = useful = 0.0
    failures = 0
    events = _events(session, [n.id for n in accepted])
    for node in accepted:
        hours = max(0.0, (now - node.registered_at).total_seconds() / 3600)
        lost, down = _downtime(events.get(node.id, []), now)
        node_hours += hours
        down_hours += down
        failures += lost
        good = sum(1 for g in node.gpus if g.acceptance == Acceptance.PASSED.value)
        useful += good * max(0.0, hours - down)
    return SupplierRecord(
        supplier=supplier,
        orders=tuple(
            OrderRecord(promised_at=o.promised_at, delivered_at=o.delivered_at) for o in orders
        ),
        gpus_tested=tested,
        gpus_failed=failed,
        node_hours=node_hours,
        node_down_hours=down_hours,
        node_failures=failures,
        paid_usd=sum(p.gpu_hours * (p.price_usd_per_gpu_hour or 0.0) for p in bills),
        paid_gpu_hours=sum(p.gpu_hours for p in bills),
        useful_gpu_hours=useful,
    )


def _events(session: Session, node_ids: list[int]) -> dict[int, list[tuple[datetime, str]]]:
    out: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    if not node_ids:
        return out
    rows = session.execute(
        select(EventRow.node_id, EventRow.at, EventRow.kind)
        .where(EventRow.node_id.in_(node_ids), EventRow.kind.in_(("node.lost", *BACK_UP)))
        .order_by(EventRow.at, EventRow.id)
    ).all()
    for node_id, at, kind in rows:
        if node_id is not None:
            out[node_id].append((at, kind))
    return out


def _downtime(events: list[tuple[datetime, str]], now: datetime) -> tuple[int, float]:
    """(losses, hours down) from a node's lost / back-up events."""
    losses, hours = 0, 0.0
    down_since: datetime | None = None
    for at, kind in events:
        if kind == "node.lost" and down_since is None:
            losses += 1
            down_since = at
        elif kind in BACK_UP and down_since is not None:
            hours += (at - down_since).total_seconds() / 3600
            down_since = None
    if down_since is not None:
        hours += (now - down_since).total_seconds() / 3600
    return losses, hours


def _public(card: Scorecard) -> ScorecardPublic:
    return ScorecardPublic(**dataclasses.asdict(card))
