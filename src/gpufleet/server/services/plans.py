"""Procurement plans from the database: build the planning problem from what the control plane
knows, solve it with the same planner ``gpufleet plan`` runs, store the plan and its report,
and turn an accepted plan into purchase orders.

What goes into the problem (``planning_inputs``):

* **Offers**: every offer in the database (imported from the catalog or contracts), filtered by
  the request's GPU models, suppliers and contract kinds.
* **Declared demand**: each project's ``demands`` rows, averaged into the plan's periods (a span
  covering half a period counts half), low / expected / high per (project, GPU model).
* **Usage history**: for projects that declared nothing over the horizon, their allocations'
  H100-equivalent GPU-hours per past period, forecast by ``planning.forecast`` (needs at least
  ``MIN_HISTORY_PERIODS`` periods since their first use; otherwise a note says it was skipped).
* **Existing fleet**: schedulable GPUs of up nodes, from period 0; orders already submitted,
  from the period their delivery is promised — sunk capacity the plan does not buy again.
* **Reliability**: each supplier's scorecard reliability derates what its orders deliver
  (``domain.scorecard``), so a supplier whose GPUs failed acceptance gets a smaller share.

Solving takes seconds to minutes: the request runs it in the caller's worker thread, with no
database session open (load, solve, store).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select

from gpufleet.catalog.gpus import gpu_table
from gpufleet.domain.offer import ContractKind
from gpufleet.domain.purchase_order import PoState
from gpufleet.planning.assemble import AssemblyError, assemble
from gpufleet.planning.scenario_file import (
    PERIOD_HOURS,
)
from gpufleet.planning.study import run_study
from gpufleet.planning.summary import study_summary
from gpufleet.reports.plan_report import render_plan_report
from gpufleet.server.db.engine import Database
from gpufleet.server.db.supply_rows import (
    PlanRow,
    PurchaseOrderRow,
)
from gpufleet.server.errors import BadInputError, ConflictError, NotFoundError
from gpufleet.server.schemas import Role
from gpufleet.server.schemas_plans import PlanAccepted, PlanCreate, PlanOrderPublic, PlanPublic
from gpufleet.server.schemas_supply import PurchaseOrderCreate
from gpufleet.server.services import orders as order_service
from gpufleet.server.services import procurement
from gpufleet.server.services.auth import Principal, require
from gpufleet.server.services.plan_inputs import period_start, planning_inputs


def create_plan(
    db: Database, principal: Principal, request: PlanCreate, now: datetime
) -> PlanPublic:
    require(principal, Role.ADMIN)
    inputs = planning_inputs(db, request, now)  # session 1
    table = gpu_table()
    try:
        assembled = assemble(
            inputs.scenario,
            inputs.offers,
            table,
            history_forecast=inputs.history,
            reliability=inputs.reliability,
        )
    except AssemblyError as error:
        raise BadInputError(str(error).removeprefix("control plane: ")) from None
    study = run_study(  # no session open while the solver runs
        assembled.in_sample,
        assembled.out_of_sample,
        mip_gap=request.mip_gap,
        time_limit_s=request.time_limit_s,
    )
    notes = [*inputs.notes, *assembled.notes]
    summary = study_summary(assembled, study, notes)
    summary["reliability"] = inputs.reliability
    start = period_start(request, now)
    hours = PERIOD_HOURS[request.period]
    options = {o.name: o for o in assembled.in_sample.options}
    orders = []
    for order in study.plan.orders:
        option = options[order.option]
        placed = max(0, order.start_period - option.lead_periods)
        orders.append(
            {
                "option": order.option,
                "supplier": order.supplier,
                "gpu": option.gpu,
                "contract": option.contract.value,
                "units": order.units,
                "gpus": order.units * option.gpus_per_unit,
                "start_period": order.start_period,
                "order_at": (start + timedelta(hours=hours * placed)).isoformat(),
                "offer": inputs.option_offers.get(order.option),
                "cost_usd": order.cost_usd,
            }
        )
    with db.transaction() as session:  # session 2
        row = PlanRow(
            state="proposed",
            created_at=now,
            created_by=principal.user,
            start=start,
            period=request.period,
            horizon=request.horizon,
            request=request.model_dump(mode="json"),
            summary=_jsonable(summary),
            orders=orders,
            report_html=render_plan_report(assembled, study, notes),
        )
        session.add(row)
        session.flush()
        return plan_public(session, row)


def _jsonable(value: Any) -> Any:
    """Plain JSON: NumPy scalars and arrays as numbers and lists, non-finite numbers as None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def list_plans(db: Database, principal: Principal) -> list[PlanPublic]:
    del principal
    with db.transaction() as session:
        rows = session.scalars(select(PlanRow).order_by(PlanRow.id.desc()).limit(100)).all()
        return [plan_public(session, r) for r in rows]


def get_plan(db: Database, principal: Principal, plan_id: int) -> PlanPublic:
    del principal
    with db.transaction() as session:
        return plan_public(session, _load(session, plan_id))


def plan_report(db: Database, principal: Principal, plan_id: int) -> str:
    del principal
    with db.transaction() as session:
        return _load(session, plan_id).report_html


def _load(session: Any, plan_id: int) -> PlanRow:
    row = session.get(PlanRow, plan_id)
    if row is None:
        raise NotFoundError(f"plan {plan_id} not found")
    return row  # type: ignore[no-any-return]


def accept_plan(
    db: Database, principal: Principal, plan_id: int, now: datetime, **submit_options: Any
) -> PlanAccepted:
    """The plan's orders become purchase orders (drafts, to be submitted on their order date;
    those due now are submitted at once). Earlier accepted plans are superseded: their drafts
    are cancelled, orders already sent stay."""
    require(principal, Role.ADMIN)
    with db.transaction() as session:
        row = _load(session, plan_id)
        if row.state != "proposed":
            raise ConflictError(f"plan {plan_id} is {row.state}; only a proposed plan is accepted")
        missing = [o["option"] for o in row.orders if o["offer"] is None]
        if missing:
            raise ConflictError(
                f"plan {plan_id}: the offers of {missing} no longer exist; plan again"
            )
        row.state, row.accepted_at, row.accepted_by = "accepted", now, principal.user
        older = session.scalars(
            select(PlanRow).where(PlanRow.state == "accepted", PlanRow.id != plan_id)
        ).all()
        for plan in older:
            plan.state = "superseded"
            for order in session.scalars(
                select(PurchaseOrderRow).where(
                    PurchaseOrderRow.plan_id == plan.id,
                    PurchaseOrderRow.state == PoState.DRAFT.value,
                )
            ):
                order_service.move(
                    order, PoState.CANCELLED, now, principal.user, f"plan {plan_id} supersedes it"
                )
        planned = list(row.orders)
    created = [
        order_service.create_order(
            db,
            principal,
            PurchaseOrderCreate(
                offer=o["offer"], units=o["units"], note=f"plan {plan_id}: {o['option']}"
            ),
            now,
            plan_id=plan_id,
            order_at=datetime.fromisoformat(o["order_at"]),
        )
        for o in planned
    ]
    submitted = []
    for draft in created:
        if draft.order_at <= now:
            procurement.submit(db, principal, draft.id, now, by="plan", **submit_options)
            submitted.append(draft.id)
    return PlanAccepted(plan=get_plan(db, principal, plan_id), submitted=submitted)


def plan_public(session: Any, row: PlanRow) -> PlanPublic:
    summary = row.summary
    ours: dict[str, Any] = next(
        (e for e in summary.get("evaluations", []) if e["name"] == "gpufleet-plan"), {}
    )
    orders = session.scalars(
        select(PurchaseOrderRow.id)
        .where(PurchaseOrderRow.plan_id == row.id)
        .order_by(PurchaseOrderRow.id)
    ).all()
    return PlanPublic(
        id=row.id,
        state=row.state,
        created_at=row.created_at,
        created_by=row.created_by,
        start=row.start,
        period=row.period,
        horizon=row.horizon,
        orders=[
            PlanOrderPublic(
                option=o["option"],
                supplier=o["supplier"],
                gpu=o["gpu"],
                contract=ContractKind(o["contract"]),
                units=o["units"],
                gpus=o["gpus"],
                start_period=o["start_period"],
                order_at=datetime.fromisoformat(o["order_at"]),
                offer=o["offer"],
                cost_usd=o["cost_usd"],
            )
            for o in row.orders
        ],
        expected_cost_usd=float(ours.get("expected_cost_usd") or 0.0),
        gap_to_bound=summary.get("gap_to_bound"),
        beats_every_baseline=bool(summary.get("beats_every_baseline")),
        evaluations=list(summary.get("evaluations", [])),
        reliability=dict(summary.get("reliability", {})),
        notes=list(summary.get("notes", [])),
        diagnosis=list(summary.get("diagnosis", [])),
        accepted_at=row.accepted_at,
        purchase_orders=list(orders),
    )
