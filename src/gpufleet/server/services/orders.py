"""Purchase orders as people handle them: create (from an offer or by hand), list, read, move
through the state machine, record a manual delivery. Talking to the supplier (submit, cancel,
follow the delivery) is ``procurement.py``'s."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from gpufleet.domain.accounting import gpu_hour_usd
from gpufleet.domain.offer import ContractKind
from gpufleet.domain.purchase_order import OrderLine, PoState, PoTransitionError, transition
from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import NodeRow
from gpufleet.server.db.supply_rows import OfferRow, PoEventRow, PurchaseOrderRow, SupplierRow
from gpufleet.server.errors import BadInputError, ConflictError, NotFoundError
from gpufleet.server.schemas import Role
from gpufleet.server.schemas_supply import (
    PoEventPublic,
    PurchaseOrderCreate,
    PurchaseOrderPublic,
)
from gpufleet.server.services.auth import Principal, require
from gpufleet.server.services.common import canonical_models
from gpufleet.server.services.suppliers import load_supplier

MAX_ORDERS_LISTED = 1000


def line_of(row: PurchaseOrderRow) -> OrderLine:
    return OrderLine(
        supplier=row.supplier.name,
        gpu=row.gpu,
        units=row.units,
        gpus_per_unit=row.gpus_per_unit,
        contract=row.contract,
        price_usd_per_unit_hour=row.price_usd_per_unit_hour,
        upfront_usd_per_unit=row.upfront_usd_per_unit,
        term_months=row.term_months,
        lead_time_days=row.lead_time_days,
    )


def gpu_price(row: PurchaseOrderRow) -> float:
    """The order's all-in price of one GPU-hour (upfront spread over the term)."""
    return gpu_hour_usd(
        row.price_usd_per_unit_hour,
        row.gpus_per_unit,
        upfront_usd_per_unit=row.upfront_usd_per_unit,
        term_months=row.term_months,
    )


def _line_from_offer(session: Session, body: PurchaseOrderCreate) -> tuple[OfferRow, OrderLine]:
    offer = session.get(OfferRow, body.offer)
    if offer is None:
        raise BadInputError(f"offer: no offer {body.offer}")
    if offer.gpus_per_unit != int(offer.gpus_per_unit):
        msg = f"offer: offer {offer.id} sells {offer.gpus_per_unit:g} GPUs per unit (GPU slices)"
        raise BadInputError(msg + "; an order needs whole GPUs per machine")
    contract = ContractKind(offer.contract)
    price = offer.price_usd_per_hour
    if contract is ContractKind.SPOT or price is None:
        contract, price = ContractKind.SPOT, offer.spot_price_usd_per_hour
    line = OrderLine(
        supplier=offer.supplier.name,
        gpu=offer.gpu,
        units=body.units,
        gpus_per_unit=int(offer.gpus_per_unit),
        contract=contract.value,
        price_usd_per_unit_hour=price or 0.0,
        upfront_usd_per_unit=offer.upfront_usd,
        term_months=offer.term_months,
        lead_time_days=offer.lead_time_days,
    )
    return offer, line


def _line_by_hand(body: PurchaseOrderCreate) -> OrderLine:
    missing = [
        name
        for name in ("supplier", "gpu", "gpus_per_unit", "contract", "price_usd_per_unit_hour")
        if getattr(body, name) is None
    ]
    if missing:
        msg = f"{', '.join(missing)}: required for an order without an offer (or give offer)"
        raise BadInputError(msg)
    models = canonical_models([body.gpu or ""], "gpu")
    if len(models) != 1:
        raise BadInputError(f"gpu: {body.gpu!r} is a family ({', '.join(models)}); name one")
    assert body.contract is not None  # noqa: S101 - checked above
    return OrderLine(
        supplier=body.supplier or "",
        gpu=models[0],
        units=body.units,
        gpus_per_unit=body.gpus_per_unit or 1,
        contract=body.contract.value,
        price_usd_per_unit_hour=body.price_usd_per_unit_hour or 0.0,
        upfront_usd_per_unit=body.upfront_usd_per_unit or 0.0,
        term_months=body.term_months,
        lead_time_days=body.lead_time_days or 0.0,
    )


def create_order(
    db: Database,
    principal: Principal,
    body: PurchaseOrderCreate,
    now: datetime,
    *,
    plan_id: int | None = None,
    order_at: datetime | None = None,
) -> PurchaseOrderPublic:
    """A draft order (``procurement.submit`` sends it when ``body.submit``)."""
    require(principal, Role.ADMIN)
    with db.transaction() as session:
        offer: OfferRow | None = None
        try:
            if body.offer is not None:
                offer, line = _line_from_offer(session, body)
            else:
                line = _line_by_hand(body)
        except ValueError as error:
            raise BadInputError(str(error)) from None
        supplier = load_supplier(session, line.supplier)
        row = PurchaseOrderRow(
            supplier=supplier,
            offer_id=offer.id if offer is not None else None,
            plan_id=plan_id,
            gpu=line.gpu,
            units=line.units,
            gpus_per_unit=line.gpus_per_unit,
            contract=line.contract,
            price_usd_per_unit_hour=line.price_usd_per_unit_hour,
            upfront_usd_per_unit=line.upfront_usd_per_unit,
            term_months=line.term_months,
            lead_time_days=line.lead_time_days,
            state=PoState.DRAFT.value,
            order_at=order_at or now,
            created_at=now,
            created_by=principal.user,
            gpus_passed=0,
            gpus_failed=0,
            note=body.note,
            adapter_state={},
        )
        session.add(row)
        session.flush()
        record_change(row, None, PoState.DRAFT, now, by=principal.user, note=body.note)
        return order_public(session, row)


def record_change(
    row: PurchaseOrderRow,
    old: PoState | None,
    new: PoState,
    at: datetime,
    *,
    by: str,
    note: str = "",
) -> None:
    row.history.append(
        PoEventRow(
            at=at, from_state=old.value if old else None, to_state=new.value, by=by, note=note
        )
    )


def move(row: PurchaseOrderRow, target: PoState, at: datetime, by: str, note: str = "") -> None:
    """One step of the state machine with its timestamps and history; ``ConflictError`` if the
    machine refuses."""
    current = PoState(row.state)
    try:
        transition(current, target)
    except PoTransitionError as error:
        raise ConflictError(f"purchase order {row.id}: {error}") from None
    row.state = target.value
    if target is PoState.SUBMITTED:
        row.submitted_at = at
        row.promised_at = line_of(row).promised_at(at)
    elif target is PoState.DELIVERED:
        row.delivered_at = at
    elif target.final:
        row.closed_at = at
    record_change(row, current, target, at, by=by, note=note)


def load_order(session: Session, order_id: int, *, lock: bool = False) -> PurchaseOrderRow:
    query = select(PurchaseOrderRow).where(PurchaseOrderRow.id == order_id)
    if lock:
        query = query.with_for_update(of=PurchaseOrderRow)
    row = session.scalar(query)
    if row is None:
        raise NotFoundError(f"purchase order {order_id} not found")
    return row


def list_orders(
    db: Database,
    principal: Principal,
    *,
    state: PoState | None = None,
    supplier: str | None = None,
    limit: int = 200,
) -> list[PurchaseOrderPublic]:
    del principal  # every role may read orders
    with db.transaction() as session:
        query = select(PurchaseOrderRow).options(selectinload(PurchaseOrderRow.history))
        if state is not None:
            query = query.where(PurchaseOrderRow.state == state.value)
        if supplier is not None:
            query = query.join(PurchaseOrderRow.supplier).where(SupplierRow.name == supplier)
        rows = session.scalars(query.order_by(PurchaseOrderRow.id.desc()).limit(limit)).all()
        return [order_public(session, row) for row in rows]


def get_order(db: Database, principal: Principal, order_id: int) -> PurchaseOrderPublic:
    del principal
    with db.transaction() as session:
        return order_public(session, load_order(session, order_id))


def order_public(session: Session, row: PurchaseOrderRow) -> PurchaseOrderPublic:
    nodes = session.scalars(
        select(NodeRow.name).where(NodeRow.purchase_order_id == row.id).order_by(NodeRow.name)
    ).all()
    return PurchaseOrderPublic(
        id=row.id,
        supplier=row.supplier.name,
        gpu=row.gpu,
        units=row.units,
        gpus_per_unit=row.gpus_per_unit,
        gpus=row.units * row.gpus_per_unit,
        contract=ContractKind(row.contract),
        price_usd_per_unit_hour=row.price_usd_per_unit_hour,
        upfront_usd_per_unit=row.upfront_usd_per_unit,
        term_months=row.term_months,
        lead_time_days=row.lead_time_days,
        usd_per_gpu_hour=gpu_price(row),
        state=PoState(row.state),
        plan=row.plan_id,
        order_at=row.order_at,
        submitted_at=row.submitted_at,
        promised_at=row.promised_at,
        delivered_at=row.delivered_at,
        closed_at=row.closed_at,
        gpus_passed=row.gpus_passed,
        gpus_failed=row.gpus_failed,
        note=row.note,
        nodes=list(nodes),
        history=[
            PoEventPublic(
                at=e.at,
                from_state=PoState(e.from_state) if e.from_state else None,
                to_state=PoState(e.to_state),
                by=e.by,
                note=e.note,
            )
            for e in row.history
        ],
    )
