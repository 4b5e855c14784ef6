"""Purchase orders and their suppliers: submit, cancel, follow deliveries, and turn delivered
machines into quarantined nodes.

Every exchange with a supplier follows the control plane's rule — no network call inside a
database transaction: read what the adapter needs (one short session), call the adapter (no
session), apply what it answered (a second short session, re-checking the order's state under
a row lock). News a supplier repeats, or that an order has already passed, changes nothing.

``follow(db, now)`` is the procurement loop's pass: drafts of an accepted plan whose order date
has come are submitted; open orders of suppliers with an automatic adapter are polled. Delivered
machines become node rows (acceptance ``pending``: none of their GPUs is scheduled until the
acceptance test passes); with a ``Provisioner`` each gets an agent token and is provisioned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpufleet.domain.fleet import Acceptance, NodeState
from gpufleet.domain.purchase_order import ORDER, PoState, path_to
from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import NodeRow
from gpufleet.server.db.supply_rows import PlanRow, PurchaseOrderRow
from gpufleet.server.errors import BadInputError, ConflictError
from gpufleet.server.provisioning import Provisioner
from gpufleet.server.schemas import Role, TokenCreate
from gpufleet.server.schemas_supply import (
    DeliveredNode,
    PoDeliver,
    PoDelivered,
    PoTransition,
    PurchaseOrderCreate,
    PurchaseOrderPublic,
)
from gpufleet.server.services.auth import Principal, issue_token, require
from gpufleet.server.services.common import record
from gpufleet.server.services.orders import (
    create_order,
    gpu_price,
    load_order,
    move,
    order_public,
)
from gpufleet.server.suppliers import (
    AdapterError,
    NodeDelivery,
    OrderView,
    Progress,
    Step,
    SupplierAdapter,
    open_adapter,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Target:
    view: OrderView
    adapter: SupplierAdapter


def _view(row: PurchaseOrderRow) -> OrderView:
    return OrderView(
        id=row.id,
        supplier=row.supplier.name,
        gpu=row.gpu,
        units=row.units,
        gpus_per_unit=row.gpus_per_unit,
        contract=row.contract,
        lead_time_days=row.lead_time_days,
        state=PoState(row.state),
        submitted_at=row.submitted_at,
        promised_at=row.promised_at,
        adapter_state=dict(row.adapter_state),
    )


def _target(db: Database, order_id: int, expect: tuple[PoState, ...]) -> _Target:
    with db.transaction() as session:
        row = load_order(session, order_id)
        if PoState(row.state) not in expect:
            allowed = ", ".join(s.value for s in expect)
            raise ConflictError(f"purchase order {order_id} is {row.state} (needs {allowed})")
        adapter = open_adapter(row.supplier.adapter, row.supplier.adapter_config)
        return _Target(_view(row), adapter)


def submit(
    db: Database,
    principal: Principal,
    order_id: int,
    now: datetime,
    *,
    by: str | None = None,
    provisioner: Provisioner | None = None,
) -> PurchaseOrderPublic:
    """draft -> submitted: the supplier's adapter is told first (outside any transaction); a
    refusal leaves the order a draft (``ConflictError`` with the supplier's reason)."""
    require(principal, Role.ADMIN)
    target = _target(db, order_id, (PoState.DRAFT,))
    view = replace(target.view, state=PoState.SUBMITTED, submitted_at=now)
    try:
        progress = target.adapter.submit(view, now)
    except AdapterError as error:
        raise ConflictError(f"purchase order {order_id}: supplier refused: {error}") from None
    steps = (Step(PoState.SUBMITTED, now, "sent to the supplier"), *progress.steps)
    progress = Progress(steps=steps, nodes=progress.nodes, adapter_state=progress.adapter_state)
    return apply(db, order_id, progress, now, by=by or principal.user, provisioner=provisioner)[0]


def cancel(
    db: Database, principal: Principal, order_id: int, now: datetime, note: str = ""
) -> PurchaseOrderPublic:
    """Cancel an order not yet delivered; an order already sent is cancelled with its supplier
    first (a refusal, e.g. hardware in transit, leaves it as it is)."""
    require(principal, Role.ADMIN)
    open_states = (PoState.DRAFT, PoState.SUBMITTED, PoState.CONFIRMED, PoState.DELIVERING)
    target = _target(db, order_id, open_states)
    if target.view.state is not PoState.DRAFT:
        try:
            target.adapter.cancel(target.view, now)
        except AdapterError as error:
            raise ConflictError(f"purchase order {order_id}: supplier refused: {error}") from None
    step = Step(PoState.CANCELLED, now, note or "cancelled")
    return apply(db, order_id, Progress(steps=(step,)), now, by=principal.user)[0]


def transition_by_hand(
    db: Database,
    principal: Principal,
    order_id: int,
    body: PoTransition,
    now: datetime,
    *,
    provisioner: Provisioner | None = None,
) -> PurchaseOrderPublic:
    """A person records a step: ``submitted`` (sends it), ``confirmed``, ``delivering``,
    ``cancelled``. ``delivered`` needs the machines (``deliver_by_hand``); ``accepted`` and
    ``rejected`` come only from acceptance tests."""
    require(principal, Role.ADMIN)
    if body.to is PoState.SUBMITTED:
        return submit(db, principal, order_id, now, provisioner=provisioner)
    if body.to is PoState.CANCELLED:
        return cancel(db, principal, order_id, now, body.note)
    if body.to is PoState.DELIVERED:
        raise BadInputError("to: record a delivery with POST .../deliver and the node names")
    if body.to in (PoState.ACCEPTED, PoState.REJECTED):
        raise BadInputError(f"to: {body.to.value} is set by the acceptance tests of its GPUs")
    if body.to is PoState.DRAFT:
        raise BadInputError("to: an order never goes back to draft")
    step = Step(body.to, now, body.note)
    return apply(db, order_id, Progress(steps=(step,)), now, by=principal.user, strict=True)[0]


def deliver_by_hand(
    db: Database, principal: Principal, order_id: int, body: PoDeliver, now: datetime
) -> PoDelivered:
    """The machines arrived: the order becomes ``delivered`` and each machine a quarantined
    node with a new agent token (shown once)."""
    require(principal, Role.ADMIN)
    if len(set(body.nodes)) != len(body.nodes):
        raise BadInputError(f"nodes: names repeat: {sorted(body.nodes)}")
    with db.transaction() as session:
        row = load_order(session, order_id)
        nodes = tuple(
            NodeDelivery(name=name, gpu=row.gpu, gpus=row.gpus_per_unit) for name in body.nodes
        )
    step = Step(PoState.DELIVERED, now, f"{len(nodes)} machine(s) delivered")
    progress = Progress(steps=(step,), nodes=nodes)
    order, delivered = apply(db, order_id, progress, now, by=principal.user, strict=True)
    tokens = _tokens(db, delivered, now)
    return PoDelivered(
        order=order,
        nodes=[DeliveredNode(name=n.name, token=tokens[n.name]) for n in delivered],
    )


def apply(
    db: Database,
    order_id: int,
    progress: Progress,
    now: datetime,
    *,
    by: str,
    provisioner: Provisioner | None = None,
    strict: bool = False,
) -> tuple[PurchaseOrderPublic, tuple[NodeDelivery, ...]]:
    """Walk the order through ``progress.steps`` (stale news skipped unless ``strict``), make
    the delivered machines nodes, then provision them (after the transaction)."""
    delivered: tuple[NodeDelivery, ...] = ()
    with db.transaction() as session:
        row = load_order(session, order_id, lock=True)
        if progress.adapter_state is not None:
            row.adapter_state = dict(progress.adapter_state)
        for step in progress.steps:
            current = PoState(row.state)
            if _passed(current, step.state):
                if strict:
                    msg = f"purchase order {order_id} is {current.value} already"
                    raise ConflictError(f"{msg} (asked: {step.state.value})")
                continue
            was_delivered = current is PoState.DELIVERED
            for state in _steps(current, step.state):
                move(row, state, step.at, by, step.note)
            if step.state is PoState.DELIVERED and not was_delivered:
                delivered = _make_nodes(session, row, progress.nodes, now)
        public = order_public(session, row)
    if provisioner is not None and delivered:
        tokens = _tokens(db, delivered, now)
        for node in delivered:
            try:
                provisioner.provision(node, tokens[node.name] or "")
            except Exception:  # a failed start leaves the node waiting for its agent
                log.exception("provisioning %s failed; start its agent by hand", node.name)
    return public, delivered


def _passed(current: PoState, target: PoState) -> bool:
    if current.final:
        return True
    if current in ORDER and target in ORDER:
        return ORDER.index(current) >= ORDER.index(target)
    return False


def _steps(current: PoState, target: PoState) -> tuple[PoState, ...]:
    try:
        return path_to(current, target)
    except ValueError as error:
        raise ConflictError(str(error)) from None


def _make_nodes(
    session: Session, row: PurchaseOrderRow, nodes: tuple[NodeDelivery, ...], now: datetime
) -> tuple[NodeDelivery, ...]:
    if len(nodes) > row.units:
        msg = f"nodes: purchase order {row.id} is for {row.units} machine(s), got {len(nodes)}"
        raise BadInputError(msg)
    names = [n.name for n in nodes]
    taken = session.scalars(select(NodeRow.name).where(NodeRow.name.in_(names))).all()
    if taken:
        raise BadInputError(f"nodes: {sorted(taken)} already exist(s) in the fleet")
    for node in nodes:
        created = NodeRow(
            name=node.name,
            state=NodeState.UP.value,
            simulated=bool(node.faults) or row.supplier.adapter == "simulated",
            cpu_count=0,
            memory_gib=0.0,
            registered_at=now,
            last_heartbeat=now,
            acceptance=Acceptance.PENDING.value,
            purchase_order_id=row.id,
            supplier=row.supplier.name,
            contract=row.contract,
            price_usd_per_gpu_hour=gpu_price(row),
        )
        session.add(created)
        session.flush()
        message = f"delivered by {row.supplier.name} (purchase order {row.id}); quarantined"
        record(session, now, "node.delivered", message, node_id=created.id)
    return nodes


def _tokens(db: Database, nodes: tuple[NodeDelivery, ...], now: datetime) -> dict[str, str | None]:
    return {
        node.name: issue_token(
            db, TokenCreate(user=f"agent-{node.name}", role=Role.AGENT, node=node.name), now
        ).token
        for node in nodes
    }


@dataclass(slots=True)
class FollowReport:
    submitted: list[int] = field(default_factory=list)
    advanced: list[int] = field(default_factory=list)
    delivered_nodes: list[str] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


SYSTEM = Principal(user="gpufleet", role=Role.ADMIN)


def follow(db: Database, now: datetime, provisioner: Provisioner | None = None) -> FollowReport:
    """One pass of the procurement loop (see the module docstring). An order whose supplier
    fails is logged and tried again next pass; the others go on."""
    report = FollowReport()
    with db.transaction() as session:
        due = session.scalars(
            select(PurchaseOrderRow.id)
            .join(PlanRow, PurchaseOrderRow.plan_id == PlanRow.id)
            .where(
                PurchaseOrderRow.state == PoState.DRAFT.value,
                PlanRow.state == "accepted",
                PurchaseOrderRow.order_at <= now,
            )
            .order_by(PurchaseOrderRow.id)
        ).all()
        open_orders = session.scalars(
            select(PurchaseOrderRow.id)
            .where(PurchaseOrderRow.state.in_([s.value for s in PoState if s.open]))
            .order_by(PurchaseOrderRow.id)
        ).all()
    for order_id in due:
        try:
            submit(db, SYSTEM, order_id, now, by="plan", provisioner=provisioner)
            report.submitted.append(order_id)
        except ConflictError as error:
            report.failed.append((order_id, error.message))
    for order_id in (o for o in open_orders if o not in report.submitted):
        try:
            target = _target(db, order_id, tuple(s for s in PoState if s.open))
            if not target.adapter.automatic:
                continue
            progress = target.adapter.poll(target.view, now)
            if not progress.steps and progress.adapter_state is None:
                continue
            by = f"adapter:{target.adapter.name}"
            _, nodes = apply(db, order_id, progress, now, by=by, provisioner=provisioner)
            report.advanced.append(order_id)
            report.delivered_nodes.extend(n.name for n in nodes)
        except (AdapterError, ConflictError, BadInputError) as error:
            log.warning("purchase order %d: %s", order_id, error)
            report.failed.append((order_id, str(error)))
    return report


def create_and_maybe_submit(
    db: Database,
    principal: Principal,
    body: PurchaseOrderCreate,
    now: datetime,
    *,
    provisioner: Provisioner | None = None,
) -> PurchaseOrderPublic:
    """A new order; sent to the supplier at once when ``body.submit``."""
    order = create_order(db, principal, body, now)
    if not body.submit:
        return order
    return submit(db, principal, order.id, now, provisioner=provisioner)
