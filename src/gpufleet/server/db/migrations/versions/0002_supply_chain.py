"""The supply chain: suppliers, offers, declared demand, plans, purchase orders and their
history, acceptance tests, allocations, budget alerts; nodes and GPUs gain acceptance state and
their contract (supplier, price); jobs gain an optional time limit.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04

Generated with Alembic's autogenerate from ``gpufleet.server.db`` and reviewed (batch mode for
SQLite's ALTER TABLE). Existing nodes and GPUs become ``not_required``: machines added by hand
need no acceptance test.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("orders", sa.JSON(), nullable=False),
        sa.Column("report_html", sa.Text(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    op.create_table(
        "suppliers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("adapter", sa.String(length=32), nullable=False),
        sa.Column("adapter_config", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppliers")),
        sa.UniqueConstraint("name", name=op.f("uq_suppliers_name")),
    )
    op.create_table(
        "budget_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spent_usd", sa.Float(), nullable=False),
        sa.Column("budget_usd", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_budget_alerts_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_alerts")),
        sa.UniqueConstraint(
            "project_id", "month", "threshold", name="uq_budget_alerts_project_id_month"
        ),
    )
    op.create_table(
        "demands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("gpu", sa.String(length=100), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expected_gpus", sa.Float(), nullable=False),
        sa.Column("low_gpus", sa.Float(), nullable=False),
        sa.Column("high_gpus", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_demands_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demands")),
    )
    with op.batch_alter_table("demands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_demands_project_id"), ["project_id"], unique=False)

    op.create_table(
        "offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("instance_type", sa.String(length=200), nullable=False),
        sa.Column("gpu", sa.String(length=100), nullable=False),
        sa.Column("gpus_per_unit", sa.Float(), nullable=False),
        sa.Column("contract", sa.String(length=16), nullable=False),
        sa.Column("price_usd_per_hour", sa.Float(), nullable=True),
        sa.Column("spot_price_usd_per_hour", sa.Float(), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("zone", sa.String(length=100), nullable=True),
        sa.Column("vcpus", sa.Float(), nullable=True),
        sa.Column("memory_gib", sa.Float(), nullable=True),
        sa.Column("term_months", sa.Float(), nullable=True),
        sa.Column("lead_time_days", sa.Float(), nullable=False),
        sa.Column("min_units", sa.Integer(), nullable=False),
        sa.Column("capacity_units", sa.Integer(), nullable=True),
        sa.Column("upfront_usd", sa.Float(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["suppliers.id"],
            name=op.f("fk_offers_supplier_id_suppliers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
        sa.UniqueConstraint("supplier_id", "key", name="uq_offers_supplier_id_key"),
    )
    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("gpu", sa.String(length=100), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("gpus_per_unit", sa.Integer(), nullable=False),
        sa.Column("contract", sa.String(length=16), nullable=False),
        sa.Column("price_usd_per_unit_hour", sa.Float(), nullable=False),
        sa.Column("upfront_usd_per_unit", sa.Float(), nullable=False),
        sa.Column("term_months", sa.Float(), nullable=True),
        sa.Column("lead_time_days", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("order_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("promised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gpus_passed", sa.Integer(), nullable=False),
        sa.Column("gpus_failed", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("adapter_state", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["offers.id"],
            name=op.f("fk_purchase_orders_offer_id_offers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_purchase_orders_plan_id_plans"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["suppliers.id"],
            name=op.f("fk_purchase_orders_supplier_id_suppliers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
    )
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.create_index("ix_purchase_orders_state", ["state"], unique=False)

    op.create_table(
        "purchase_order_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purchase_order_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_purchase_order_events_purchase_order_id_purchase_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order_events")),
    )
    with op.batch_alter_table("purchase_order_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purchase_order_events_purchase_order_id"),
            ["purchase_order_id"],
            unique=False,
        )

    op.create_table(
        "acceptance_tests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("judged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("burn_in_s", sa.Float(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("verdict", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["nodes.id"],
            name=op.f("fk_acceptance_tests_node_id_nodes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acceptance_tests")),
    )
    with op.batch_alter_table("acceptance_tests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_acceptance_tests_node_id"), ["node_id"], unique=False)

    op.create_table(
        "allocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=True),
        sa.Column("node_name", sa.String(length=255), nullable=False),
        sa.Column("gpu", sa.String(length=100), nullable=False),
        sa.Column("gpus", sa.Integer(), nullable=False),
        sa.Column("gpu_indices", sa.JSON(), nullable=False),
        sa.Column("supplier", sa.String(length=100), nullable=True),
        sa.Column("contract", sa.String(length=16), nullable=True),
        sa.Column("price_usd_per_gpu_hour", sa.Float(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_allocations_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["nodes.id"],
            name=op.f("fk_allocations_node_id_nodes"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_allocations_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index("ix_allocations_ended_at", ["ended_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_allocations_job_id"), ["job_id"], unique=False)
        batch_op.create_index("ix_allocations_project_id", ["project_id"], unique=False)

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_limit_s", sa.Integer(), nullable=True))

    with op.batch_alter_table("gpus", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "acceptance", sa.String(length=16), nullable=False, server_default="not_required"
            )
        )
        batch_op.add_column(
            sa.Column("acceptance_note", sa.Text(), nullable=False, server_default="")
        )

    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "acceptance", sa.String(length=16), nullable=False, server_default="not_required"
            )
        )
        batch_op.add_column(sa.Column("purchase_order_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("supplier", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("contract", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("price_usd_per_gpu_hour", sa.Float(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_nodes_purchase_order_id"), ["purchase_order_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_nodes_purchase_order_id_purchase_orders"),
            "purchase_orders",
            ["purchase_order_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("time_limit_s")
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_constraint("fk_nodes_purchase_order_id_purchase_orders", type_="foreignkey")
        batch_op.drop_index("ix_nodes_purchase_order_id")
        for column in ("price_usd_per_gpu_hour", "contract", "supplier", "purchase_order_id"):
            batch_op.drop_column(column)
        batch_op.drop_column("acceptance")
    with op.batch_alter_table("gpus", schema=None) as batch_op:
        batch_op.drop_column("acceptance_note")
        batch_op.drop_column("acceptance")
    for table in (
        "allocations", "acceptance_tests", "purchase_order_events", "purchase_orders", "offers",
        "demands", "budget_alerts", "suppliers", "plans",
    ):  # fmt: skip
        op.drop_table(table)
