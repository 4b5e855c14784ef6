"""Database rows (SQLAlchemy 2 declarative). Rows never leave a service: services map them to
API schemas or domain values before the session closes.

The schema is created only by the Alembic migrations in ``migrations/``; a test checks that the
migrated schema matches this metadata on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

if TYPE_CHECKING:
    from gpufleet.server.db.supply_rows import PurchaseOrderRow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset: stored as naive
    UTC, read back as aware UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = f"naive datetime {value!r}: pass timezone-aware UTC times"
            raise ValueError(msg)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, _dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    quota: Mapped[dict[str, int]] = mapped_column(JSON)
    """GPUs guaranteed per canonical GPU model id."""
    budget_usd: Mapped[float | None] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    """``admin``, ``member`` or ``agent``."""
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    node_name: Mapped[str | None] = mapped_column(String(255))
    """An agent token's node (by name: the node may register after the token is made)."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    user: Mapped[UserRow] = relationship()
    project: Mapped[ProjectRow | None] = relationship()


class NodeRow(Base):
    __tablename__ = "nodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    simulated: Mapped[bool] = mapped_column(Boolean)
    cpu_count: Mapped[int] = mapped_column(Integer)
    memory_gib: Mapped[float] = mapped_column(Float)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_heartbeat: Mapped[datetime] = mapped_column(UtcDateTime)
    acceptance: Mapped[str] = mapped_column(String(16), default="not_required")
    """A ``domain.fleet.Acceptance`` value: ``not_required`` for a machine added by hand,
    ``pending`` from delivery until its acceptance test is judged, then ``passed``/``failed``."""
    purchase_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("purchase_orders.id", ondelete="SET NULL"), index=True
    )
    supplier: Mapped[str | None] = mapped_column(String(100))
    contract: Mapped[str | None] = mapped_column(String(16))
    price_usd_per_gpu_hour: Mapped[float | None] = mapped_column(Float)
    """The contract's all-in price of one of its GPU-hours; ``None``: unpriced."""

    gpus: Mapped[list[GpuRow]] = relationship(
        back_populates="node", order_by="GpuRow.index", cascade="all, delete-orphan"
    )
    purchase_order: Mapped[PurchaseOrderRow | None] = relationship()


class GpuRow(Base):
    __tablename__ = "gpus"
    __table_args__ = (UniqueConstraint("node_id", "gpu_index", name="uq_gpus_node_id_gpu_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column("gpu_index", Integer)
    model: Mapped[str] = mapped_column(String(100))
    memory_gib: Mapped[float] = mapped_column(Float)
    uuid: Mapped[str] = mapped_column(String(100))
    simulated: Mapped[bool] = mapped_column(Boolean)
    utilisation_pct: Mapped[float | None] = mapped_column(Float)
    memory_used_gib: Mapped[float | None] = mapped_column(Float)
    temperature_c: Mapped[float | None] = mapped_column(Float)
    power_w: Mapped[float | None] = mapped_column(Float)
    telemetry_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acceptance: Mapped[str] = mapped_column(String(16), default="not_required")
    """As the node's, per GPU: only ``not_required`` and ``passed`` GPUs are scheduled."""
    acceptance_note: Mapped[str] = mapped_column(Text, default="")

    node: Mapped[NodeRow] = relationship(back_populates="gpus")


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state", "state"),
        Index("ix_jobs_project_id", "project_id"),
        Index("ix_jobs_node_id_state", "node_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    command: Mapped[list[str]] = mapped_column(JSON)
    gpus: Mapped[int] = mapped_column(Integer)
    gpu_models: Mapped[list[str]] = mapped_column(JSON)
    """Canonical model ids allowed; empty: any."""
    priority: Mapped[int] = mapped_column(Integer)
    time_limit_s: Mapped[int | None] = mapped_column(Integer)
    """Stopped after this many seconds of running; ``None``: no limit."""
    state: Mapped[str] = mapped_column(String(16))
    """A ``domain.job.JobState`` value; changed only through ``transition``."""
    cancel_requested: Mapped[bool] = mapped_column(Boolean)
    attempts: Mapped[int] = mapped_column(Integer)
    """Times the job went back to pending after it held GPUs (node lost, preempted)."""
    node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id", ondelete="SET NULL"))
    gpu_indices: Mapped[list[int]] = mapped_column(JSON)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    scheduled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    seen_running_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """Last time its agent said it runs the job (``started``, or listed in a heartbeat)."""
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    project: Mapped[ProjectRow] = relationship()
    node: Mapped[NodeRow | None] = relationship()


class JobLogLineRow(Base):
    __tablename__ = "job_log_lines"
    __table_args__ = (UniqueConstraint("job_id", "seq", name="uq_job_log_lines_job_id_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    """1, 2, ... per job, in the order the agent sent the lines."""
    text: Mapped[str] = mapped_column(Text)


class EventRow(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    """``job.submitted``, ``job.scheduled``, ``node.lost``, ... (dotted: subject.verb)."""
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), index=True
    )
    node_id: Mapped[int | None] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), index=True
    )
    message: Mapped[str] = mapped_column(Text)


# The supply-chain rows live beside these (one metadata); importing them here makes every
# table known wherever the rows are.
from gpufleet.server.db import supply_rows as _supply_rows  # noqa: E402, F401
