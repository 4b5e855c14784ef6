"""Purchase orders: create, list, read, move through the state machine, record a delivery."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from gpufleet.domain.purchase_order import PoState
from gpufleet.server.deps import DbDep, IdPath, NowDep, PrincipalDep, ProvisionerDep
from gpufleet.server.schemas_supply import (
    PoDeliver,
    PoDelivered,
    PoTransition,
    PurchaseOrderCreate,
    PurchaseOrderPublic,
)
from gpufleet.server.services import orders, procurement

router = APIRouter(tags=["purchase orders"])


@router.get("/purchase-orders")
def list_orders(
    db: DbDep,
    principal: PrincipalDep,
    state: PoState | None = None,
    supplier: str | None = None,
    limit: Annotated[int, Query(ge=1, le=orders.MAX_ORDERS_LISTED)] = 200,
) -> list[PurchaseOrderPublic]:
    return orders.list_orders(db, principal, state=state, supplier=supplier, limit=limit)


@router.post("/purchase-orders", status_code=status.HTTP_201_CREATED)
def create_order(
    body: PurchaseOrderCreate,
    db: DbDep,
    now: NowDep,
    principal: PrincipalDep,
    provisioner: ProvisionerDep,
) -> PurchaseOrderPublic:
    return procurement.create_and_maybe_submit(db, principal, body, now, provisioner=provisioner)


@router.get("/purchase-orders/{order_id}")
def get_order(order_id: IdPath, db: DbDep, principal: PrincipalDep) -> PurchaseOrderPublic:
    return orders.get_order(db, principal, order_id)


@router.post("/purchase-orders/{order_id}/transition")
def transition(
    order_id: IdPath,
    body: PoTransition,
    db: DbDep,
    now: NowDep,
    principal: PrincipalDep,
    provisioner: ProvisionerDep,
) -> PurchaseOrderPublic:
    return procurement.transition_by_hand(
        db, principal, order_id, body, now, provisioner=provisioner
    )


@router.post("/purchase-orders/{order_id}/deliver")
def deliver(
    order_id: IdPath, body: PoDeliver, db: DbDep, now: NowDep, principal: PrincipalDep
) -> PoDelivered:
    return procurement.deliver_by_hand(db, principal, order_id, body, now)
