"""Database rows of the supply chain: suppliers, their offers, declared demand, plans, purchase
orders (with every state change), acceptance tests, allocations and budget alerts.

Same rules as ``rows.py``: rows never leave a service, and the schema comes only from the
Alembic migrations (``0002_supply_chain``), which a test compares with these rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gpufleet.server.db.rows import Base, JobRow, NodeRow, ProjectRow, UtcDateTime


class SupplierRow(Base):
    __tablename__ = "suppliers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    """The supplier id offers use (``aws``, ``lambda``, ``example-colo``)."""
    display_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    adapter: Mapped[str] = mapped_column(String(32))
    """The supplier adapter that carries its orders out (``manual``, ``simulated``)."""
    adapter_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OfferRow(Base):
    __tablename__ = "offers"
    __table_args__ = (UniqueConstraint("supplier_id", "key", name="uq_offers_supplier_id_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(400))
    """``instance_type|region|zone|contract``: what makes an offer the same on re-import."""
    instance_type: Mapped[str] = mapped_column(String(200))
    gpu: Mapped[str] = mapped_column(String(100))
    gpus_per_unit: Mapped[float] = mapped_column(Float)
    contract: Mapped[str] = mapped_column(String(16))
    price_usd_per_hour: Mapped[float | None] = mapped_column(Float)
    spot_price_usd_per_hour: Mapped[float | None] = mapped_column(Float)
    region: Mapped[str | None] = mapped_column(String(100))
    zone: Mapped[str | None] = mapped_column(String(100))
    vcpus: Mapped[float | None] = mapped_column(Float)
    memory_gib: Mapped[float | None] = mapped_column(Float)
    term_months: Mapped[float | None] = mapped_column(Float)
    lead_time_days: Mapped[float] = mapped_column(Float)
    min_units: Mapped[int] = mapped_column(Integer)
    capacity_units: Mapped[int | None] = mapped_column(Integer)
    upfront_usd: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime)

    supplier: Mapped[SupplierRow] = relationship()


class DemandRow(Base):
    """A project's declared need: GPUs of one model, busy on average, over ``[start, end)``."""

    __tablename__ = "demands"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    gpu: Mapped[str] = mapped_column(String(100))
    start: Mapped[datetime] = mapped_column(UtcDateTime)
    end: Mapped[datetime] = mapped_column(UtcDateTime)
    expected_gpus: Mapped[float] = mapped_column(Float)
    low_gpus: Mapped[float] = mapped_column(Float)
    high_gpus: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    project: Mapped[ProjectRow] = relationship()


class PlanRow(Base):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    """``proposed``, ``accepted`` or ``superseded`` (another plan was accepted after it)."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    start: Mapped[datetime] = mapped_column(UtcDateTime)
    period: Mapped[str] = mapped_column(String(8))
    horizon: Mapped[int] = mapped_column(Integer)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The planning request as given (horizon, penalty, scenarios, ...)."""
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Evaluations of ours, the baselines and the bound; reliability used per supplier; notes."""
    orders: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    report_html: Mapped[str] = mapped_column(Text)
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    accepted_by: Mapped[str | None] = mapped_column(String(100))


class PurchaseOrderRow(Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (Index("ix_purchase_orders_state", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id", ondelete="CASCADE"))
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id", ondelete="SET NULL"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="SET NULL"))
    gpu: Mapped[str] = mapped_column(String(100))
    units: Mapped[int] = mapped_column(Integer)
    gpus_per_unit: Mapped[int] = mapped_column(Integer)
    contract: Mapped[str] = mapped_column(String(16))
    price_usd_per_unit_hour: Mapped[float] = mapped_column(Float)
    upfront_usd_per_unit: Mapped[float] = mapped_column(Float)
    term_months: Mapped[float | None] = mapped_column(Float)
    lead_time_days: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    """A ``domain.purchase_order.PoState`` value; changed only through ``transition``."""
    order_at: Mapped[datetime] = mapped_column(UtcDateTime)
    """When it is to be submitted (an accepted plan's later orders wait for their period)."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    promised_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    gpus_passed: Mapped[int] = mapped_column(Integer)
    gpus_failed: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text)
    adapter_state: Mapped[dict[str, Any]] = mapped_column(JSON)

    supplier: Mapped[SupplierRow] = relationship()
    history: Mapped[list[PoEventRow]] = relationship(
        order_by="PoEventRow.id", cascade="all, delete-orphan"
    )


class PoEventRow(Base):
    """One state change of a purchase order: from, to, when, who, why."""

    __tablename__ = "purchase_order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purchase_order_id: Mapped[int] = mapped_column(
        ForeignKey("purchase_orders.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(100))
    """A user name, or ``adapter:NAME`` / ``acceptance`` for changes the system made."""
    note: Mapped[str] = mapped_column(Text)


class AcceptanceTestRow(Base):
    __tablename__ = "acceptance_tests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    """``requested`` (sent with heartbeats until reported) or ``judged``."""
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    judged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    burn_in_s: Mapped[float] = mapped_column(Float)
    request: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """The GPUs to test: index, expected model, expected memory."""
    report: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    verdict: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    node: Mapped[NodeRow] = relationship()


class AllocationRow(Base):
    """GPUs one job held on one node, from scheduled until it let them go: the usage record
    accounting prices (the contract price is copied in when it opens)."""

    __tablename__ = "allocations"
    __table_args__ = (
        Index("ix_allocations_ended_at", "ended_at"),
        Index("ix_allocations_project_id", "project_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id", ondelete="SET NULL"))
    node_name: Mapped[str] = mapped_column(String(255))
    gpu: Mapped[str] = mapped_column(String(100))
    gpus: Mapped[int] = mapped_column(Integer)
    gpu_indices: Mapped[list[int]] = mapped_column(JSON)
    supplier: Mapped[str | None] = mapped_column(String(100))
    contract: Mapped[str | None] = mapped_column(String(16))
    price_usd_per_gpu_hour: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    job: Mapped[JobRow] = relationship()
    project: Mapped[ProjectRow] = relationship()


class BudgetAlertRow(Base):
    """A budget alert raised once per project, month and threshold."""

    __tablename__ = "budget_alerts"
    __table_args__ = (
        UniqueConstraint(
            "project_id", "month", "threshold", name="uq_budget_alerts_project_id_month"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(7))
    threshold: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    spent_usd: Mapped[float] = mapped_column(Float)
    budget_usd: Mapped[float] = mapped_column(Float)
