"""Suppliers and their offers: create a supplier with the adapter that carries its orders out,
import offers (from the catalog, through the CLI, or a contract), list them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gpufleet.domain.offer import ContractKind, Offer
from gpufleet.domain.supplier import SupplierKind
from gpufleet.server.db.engine import Database
from gpufleet.server.db.supply_rows import OfferRow, SupplierRow
from gpufleet.server.errors import BadInputError, ConflictError, NotFoundError
from gpufleet.server.schemas import Role
from gpufleet.server.schemas_supply import (
    OfferCreate,
    OfferImport,
    OfferImportResult,
    OfferPublic,
    SupplierCreate,
    SupplierPublic,
)
from gpufleet.server.services.auth import Principal, require
from gpufleet.server.services.common import canonical_models
from gpufleet.server.suppliers import open_adapter

MAX_OFFERS_LISTED = 5000


def _kind(value: str) -> str:
    try:
        return SupplierKind(value).value
    except ValueError:
        known = ", ".join(k.value for k in SupplierKind)
        raise BadInputError(f"kind: {value!r} is not a supplier kind ({known})") from None


def _check_adapter(name: str, config: dict[str, object]) -> None:
    try:
        open_adapter(name, config)
    except ValueError as error:
        raise BadInputError(f"adapter: {error}") from None


def create_supplier(
    db: Database, principal: Principal, body: SupplierCreate, now: datetime
) -> SupplierPublic:
    require(principal, Role.ADMIN)
    _check_adapter(body.adapter, body.adapter_config)
    with db.transaction() as session:
        if session.scalar(select(SupplierRow.id).where(SupplierRow.name == body.name)):
            raise ConflictError(f"name: supplier {body.name!r} already exists")
        row = SupplierRow(
            name=body.name,
            display_name=body.display_name or body.name,
            kind=_kind(body.kind),
            adapter=body.adapter,
            adapter_config=dict(body.adapter_config),
            created_at=now,
        )
        session.add(row)
        session.flush()
        return supplier_public(session, row)


def update_supplier(
    db: Database, principal: Principal, name: str, body: SupplierCreate
) -> SupplierPublic:
    """Change a supplier's display name, kind or adapter (its name and offers stay)."""
    require(principal, Role.ADMIN)
    if body.name != name:
        raise BadInputError(f"name: the body names {body.name!r}, the path {name!r}")
    _check_adapter(body.adapter, body.adapter_config)
    with db.transaction() as session:
        row = load_supplier(session, name, lock=True)
        row.display_name = body.display_name or row.display_name
        row.kind = _kind(body.kind)
        row.adapter = body.adapter
        row.adapter_config = dict(body.adapter_config)
        return supplier_public(session, row)


def list_suppliers(db: Database, principal: Principal) -> list[SupplierPublic]:
    del principal  # every role may read suppliers
    with db.transaction() as session:
        rows = session.scalars(select(SupplierRow).order_by(SupplierRow.name)).all()
        return [supplier_public(session, row) for row in rows]


def load_supplier(session: Session, name: str, *, lock: bool = False) -> SupplierRow:
    query = select(SupplierRow).where(SupplierRow.name == name)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFoundError(f"supplier {name!r} not found")
    return row


def supplier_public(session: Session, row: SupplierRow) -> SupplierPublic:
    adapter = open_adapter(row.adapter, row.adapter_config)
    offers = session.scalar(select(func.count(OfferRow.id)).where(OfferRow.supplier_id == row.id))
    return SupplierPublic(
        name=row.name,
        display_name=row.display_name,
        kind=row.kind,
        adapter=row.adapter,
        adapter_config=dict(row.adapter_config),
        automatic=adapter.automatic,
        unsupported=dict(adapter.unsupported),
        offers=int(offers or 0),
    )


def offer_key(body: OfferCreate) -> str:
    return "|".join((body.instance_type, body.region or "", body.zone or "", body.contract.value))


def _validated(body: OfferCreate, where: str) -> OfferCreate:
    """The offer with its GPU model canonical; ``BadInputError`` naming ``where`` otherwise."""
    models = canonical_models([body.gpu], f"{where}.gpu")
    if len(models) != 1:
        raise BadInputError(f"{where}.gpu: {body.gpu!r} is a family ({', '.join(models)})")
    checked = body.model_copy(update={"gpu": models[0]})
    try:
        as_domain(checked)
    except ValueError as error:
        raise BadInputError(f"{where}: {error}") from None
    return checked


def import_offers(
    db: Database, principal: Principal, body: OfferImport, now: datetime
) -> OfferImportResult:
    """Create or update offers (the same supplier, instance type, region, zone and contract is
    the same offer); suppliers they name that do not exist are created with ``body.adapter``.
    All or nothing: one bad offer refuses the whole import, naming it."""
    require(principal, Role.ADMIN)
    _check_adapter(body.adapter, {})
    offers = [_validated(o, f"offers[{i}]") for i, o in enumerate(body.offers)]
    created = updated = 0
    new_suppliers: list[str] = []
    with db.transaction() as session:
        suppliers = {s.name: s for s in session.scalars(select(SupplierRow))}
        for name in sorted({o.supplier for o in offers} - set(suppliers)):
            row = SupplierRow(
                name=name,
                display_name=name,
                kind=SupplierKind.UNKNOWN.value,
                adapter=body.adapter,
                adapter_config={},
                created_at=now,
            )
            session.add(row)
            suppliers[name] = row
            new_suppliers.append(name)
        session.flush()
        existing = {
            (o.supplier_id, o.key): o
            for o in session.scalars(
                select(OfferRow).where(
                    OfferRow.supplier_id.in_([suppliers[o.supplier].id for o in offers])
                )
            )
        }
        for offer in offers:
            supplier = suppliers[offer.supplier]
            key = offer_key(offer)
            offer_row = existing.get((supplier.id, key))
            if offer_row is None:
                offer_row = OfferRow(supplier_id=supplier.id, key=key)
                session.add(offer_row)
                existing[(supplier.id, key)] = offer_row
                created += 1
            else:
                updated += 1
            _fill(offer_row, offer, now)
    return OfferImportResult(created=created, updated=updated, suppliers_created=new_suppliers)


def _fill(row: OfferRow, offer: OfferCreate, now: datetime) -> None:
    for field in (
        "instance_type", "gpu", "gpus_per_unit", "price_usd_per_hour", "spot_price_usd_per_hour",
        "region", "zone", "vcpus", "memory_gib", "term_months", "lead_time_days", "min_units",
        "capacity_units", "upfront_usd", "source",
    ):  # fmt: skip
        setattr(row, field, getattr(offer, field))
    row.contract = offer.contract.value
    row.imported_at = now


def list_offers(
    db: Database,
    principal: Principal,
    *,
    supplier: str | None = None,
    gpu: Sequence[str] = (),
    contract: ContractKind | None = None,
    limit: int = 500,
) -> list[OfferPublic]:
    del principal  # every role may read offers
    models = canonical_models(gpu, "gpu") if gpu else None
    with db.transaction() as session:
        query = select(OfferRow).join(OfferRow.supplier)
        if supplier is not None:
            query = query.where(SupplierRow.name == supplier)
        if models is not None:
            query = query.where(OfferRow.gpu.in_(models))
        if contract is not None:
            query = query.where(OfferRow.contract == contract.value)
        rows = session.scalars(query.order_by(SupplierRow.name, OfferRow.id).limit(limit)).all()
        return [offer_public(row) for row in rows]


def as_domain(offer: OfferCreate | OfferRow) -> Offer:
    supplier = offer.supplier if isinstance(offer, OfferCreate) else offer.supplier.name
    return Offer(
        supplier=supplier,
        instance_type=offer.instance_type,
        gpu=offer.gpu,
        gpus_per_unit=offer.gpus_per_unit,
        contract=ContractKind(offer.contract),
        price_usd_per_hour=offer.price_usd_per_hour,
        spot_price_usd_per_hour=offer.spot_price_usd_per_hour,
        region=offer.region,
        zone=offer.zone,
        vcpus=offer.vcpus,
        memory_gib=offer.memory_gib,
        term_months=offer.term_months,
        lead_time_days=offer.lead_time_days,
        min_units=offer.min_units,
        capacity_units=offer.capacity_units,
        upfront_usd=offer.upfront_usd,
        source=offer.source,
    )


def offer_public(row: OfferRow) -> OfferPublic:
    offer = as_domain(row)
    spot = offer.contract is ContractKind.SPOT
    return OfferPublic(
        id=row.id,
        supplier=row.supplier.name,
        instance_type=row.instance_type,
        gpu=row.gpu,
        gpus_per_unit=row.gpus_per_unit,
        contract=offer.contract,
        price_usd_per_hour=row.price_usd_per_hour,
        spot_price_usd_per_hour=row.spot_price_usd_per_hour,
        usd_per_gpu_hour=offer.hourly_usd_per_gpu(spot=spot),
        region=row.region,
        zone=row.zone,
        term_months=row.term_months,
        lead_time_days=row.lead_time_days,
        min_units=row.min_units,
        capacity_units=row.capacity_units,
        upfront_usd=row.upfront_usd,
        source=row.source,
    )
