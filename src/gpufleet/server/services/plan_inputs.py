"""What a plan is built from, read from the database (see ``plans.py`` for the list):
offers, declared demand averaged into periods, usage history forecast for projects that
declared nothing, the existing fleet and open orders as sunk capacity, and each supplier's
reliability from its scorecard. Pure reads: one short session, no solver."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select

from gpufleet.catalog.gpus import gpu_table
from gpufleet.domain.fleet import SCHEDULABLE, Acceptance, NodeState
from gpufleet.domain.offer import Offer
from gpufleet.domain.purchase_order import PoState
from gpufleet.planning.assemble import EVALUATION_SEED_OFFSET
from gpufleet.planning.build import efficiency_of
from gpufleet.planning.forecast import forecast
from gpufleet.planning.scenario_file import (
    PERIOD_HOURS,
    DemandLine,
    ExistingCapacity,
    OfferSelection,
    Scenario,
)
from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import NodeRow
from gpufleet.server.db.supply_rows import (
    AllocationRow,
    DemandRow,
    OfferRow,
    PurchaseOrderRow,
)
from gpufleet.server.errors import BadInputError
from gpufleet.server.schemas_plans import PlanCreate
from gpufleet.server.services.scorecards import compute as compute_scorecards
from gpufleet.server.services.suppliers import as_domain

MIN_HISTORY_PERIODS = 4
HISTORY_PERIODS = 52
OPEN_OR_DELIVERED = (
    PoState.SUBMITTED.value,
    PoState.CONFIRMED.value,
    PoState.DELIVERING.value,
    PoState.DELIVERED.value,
)


@dataclass(slots=True)
class Inputs:
    scenario: Scenario
    offers: list[Offer]
    option_offers: dict[str, int]
    reliability: dict[str, float]
    history: tuple[NDArray[np.float64], NDArray[np.float64]] | None
    notes: list[str] = field(default_factory=list)


def period_start(request: PlanCreate, now: datetime) -> datetime:
    start = request.start or datetime(now.year, now.month, now.day, tzinfo=UTC)
    if start.tzinfo is None:
        raise BadInputError("start: give a time zone (e.g. 2027-01-04T00:00:00Z)")
    return start.astimezone(UTC)


def planning_inputs(db: Database, request: PlanCreate, now: datetime) -> Inputs:
    start = period_start(request, now)
    hours = PERIOD_HOURS[request.period]
    horizon = request.horizon
    bounds = [start + timedelta(hours=hours * t) for t in range(horizon + 1)]
    table = gpu_table()
    notes: list[str] = []
    with db.transaction() as session:
        offer_rows = session.scalars(select(OfferRow).order_by(OfferRow.id)).all()
        offers = [as_domain(row) for row in offer_rows]
        option_offers = _option_names(offer_rows)
        demand_rows = session.scalars(select(DemandRow).order_by(DemandRow.id)).all()
        lines = _demand_lines(demand_rows, bounds)
        declared = {line.project for line in lines}
        existing = _existing(session, bounds, notes)
        history_rows = _history_rows(session, declared, bounds[0], hours, request.reference_gpu)
    if not offers:
        raise BadInputError("no offers to plan with: import some first (gpufleet offers import)")
    history = None
    if request.use_history:
        history = _forecast(history_rows, request, notes)
    if not lines and history is None:
        raise BadInputError(
            "no demand to plan for: declare some (POST /api/v1/demand) or let projects run "
            f"for {MIN_HISTORY_PERIODS} {request.period}s first"
        )
    reliability: dict[str, float] = {}
    if request.use_reliability:
        reliability = {c.supplier: c.reliability for c in compute_scorecards(db, now)}
        derated = {s: r for s, r in reliability.items() if r < 1}
        if derated:
            notes.append(
                "reliability from supplier scorecards: "
                + ", ".join(f"{s} {r:.1%}" for s, r in sorted(derated.items()))
            )
    scenario = Scenario(
        path=Path("control plane"),
        name=f"plan from {start.date().isoformat()}",
        description="built from the control plane's offers, demand, usage and fleet",
        period=request.period,
        horizon=horizon,
        start=start.date(),
        reference_gpu=table.get(request.reference_gpu).id,
        offers=OfferSelection(
            catalog="none",
            gpus=tuple(request.gpus),
            suppliers=tuple(request.suppliers),
            contracts=frozenset(request.contracts),
            max_per_contract=request.max_per_contract,
        ),
        demand_unit="gpus",
        correlation=0.8,
        demand=tuple(lines),
        history=None,
        existing=tuple(existing),
        budget_usd=None,
        max_supplier_share=request.max_supplier_share,
        unmet_penalty_usd_per_gpu_hour=request.unmet_penalty_usd_per_gpu_hour,
        spot_restart_overhead_hours=0.25,
        scenarios=request.scenarios,
        evaluation_scenarios=request.evaluation_scenarios,
        seed=request.seed,
        risk=None,
        mip_gap=request.mip_gap,
        time_limit_s=request.time_limit_s,
    )
    del table
    return Inputs(scenario, offers, option_offers, reliability, history, notes)


def _option_names(rows: Any) -> dict[str, int]:
    """The planner's option names (``build._as_options``) back to offer ids."""
    out = {}
    for row in rows:
        base = "/".join(p for p in (row.supplier.name, row.instance_type, row.region) if p)
        out[f"{base}/{row.contract}"] = row.id
        if row.spot_price_usd_per_hour is not None:
            out[f"{base}/spot"] = row.id
    return out


def _overlap(start: datetime, end: datetime, bounds: list[datetime]) -> NDArray[np.float64]:
    """Share of each period ``[bounds[t], bounds[t+1])`` that ``[start, end)`` covers."""
    out = np.zeros(len(bounds) - 1)
    for t in range(len(bounds) - 1):
        lo, hi = max(start, bounds[t]), min(end, bounds[t + 1])
        if hi > lo:
            out[t] = (hi - lo) / (bounds[t + 1] - bounds[t])
    return out


def _demand_lines(rows: Any, bounds: list[datetime]) -> list[DemandLine]:
    sums: dict[tuple[str, str], list[NDArray[np.float64]]] = {}
    for row in rows:
        share = _overlap(row.start, row.end, bounds)
        if not share.any():
            continue
        cell = sums.setdefault(
            (row.project.name, row.gpu), [np.zeros(share.size) for _ in range(3)]
        )
        cell[0] += share * row.low_gpus
        cell[1] += share * row.expected_gpus
        cell[2] += share * row.high_gpus
    return [
        DemandLine(project=project, gpu=gpu, low=low, expected=expected, high=high)
        for (project, gpu), (low, expected, high) in sorted(sums.items())
    ]


def _existing(session: Any, bounds: list[datetime], notes: list[str]) -> list[ExistingCapacity]:
    table = gpu_table()
    last = len(bounds) - 2
    counts: dict[str, int] = {}
    nodes = session.scalars(
        select(NodeRow).where(
            NodeRow.state == NodeState.UP.value,
            NodeRow.acceptance.in_(SCHEDULABLE),
        )
    ).all()
    unknown = set()
    for node in nodes:
        for gpu in node.gpus:
            if not Acceptance(gpu.acceptance).schedulable:
                continue
            if table.resolve(gpu.model) is None:
                unknown.add(gpu.model)
                continue
            counts[gpu.model] = counts.get(gpu.model, 0) + 1
    if unknown:
        notes.append(f"existing GPUs of unknown models left out: {', '.join(sorted(unknown))}")
    out = [ExistingCapacity(gpu=m, gpus=n, first=0, last=last) for m, n in sorted(counts.items())]
    pending = session.scalars(
        select(PurchaseOrderRow).where(PurchaseOrderRow.state.in_(OPEN_OR_DELIVERED))
    ).all()
    for order in pending:
        if order.state == PoState.DELIVERED.value or order.promised_at is None:
            first = 0
        else:
            first = max(0, _period_of(order.promised_at, bounds))
        if first > last:
            continue
        out.append(
            ExistingCapacity(
                gpu=order.gpu,
                gpus=order.units * order.gpus_per_unit,
                first=first,
                last=last,
                supplier=order.supplier.name,
            )
        )
    if out:
        total = sum(e.gpus for e in out)
        notes.append(f"existing fleet and open orders: {total:g} GPUs counted as sunk capacity")
    return out


def _period_of(at: datetime, bounds: list[datetime]) -> int:
    """The period ``at`` falls in (0 before the first, past the last after the horizon)."""
    for t in range(len(bounds) - 1):
        if at < bounds[t + 1]:
            return t
    return len(bounds)


def _history_rows(
    session: Any, declared: set[str], start: datetime, hours: float, reference: str
) -> NDArray[np.float64]:
    """H100-equivalent GPU-hours per past period (oldest first) of projects that declared
    nothing, up to ``HISTORY_PERIODS`` periods before ``start``."""
    table = gpu_table()
    since = start - timedelta(hours=hours * HISTORY_PERIODS)
    bounds = [since + timedelta(hours=hours * t) for t in range(HISTORY_PERIODS + 1)]
    series = np.zeros(HISTORY_PERIODS)
    rows = session.scalars(select(AllocationRow).where(AllocationRow.started_at < start)).all()
    first_used: int | None = None
    for row in rows:
        if row.project.name in declared:
            continue
        end = min(row.ended_at or start, start)
        share = _overlap(row.started_at, end, bounds)
        if not share.any():
            continue
        model = table.resolve(row.gpu)
        eff = efficiency_of(model.id, table, reference, {}) if model else None
        series += share * hours * row.gpus * (eff or 1.0)
        used = int(np.flatnonzero(share)[0])
        first_used = used if first_used is None else min(first_used, used)
    return series[first_used:] if first_used is not None else series[:0]


def _forecast(
    series: NDArray[np.float64], request: PlanCreate, notes: list[str]
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    if series.size < MIN_HISTORY_PERIODS or not series.any():
        if series.size:
            notes.append(
                f"usage history: {series.size} {request.period}(s), fewer than "
                f"{MIN_HISTORY_PERIODS}: not forecast"
            )
        return None
    runs = [
        forecast(series, request.horizon, scenarios=count, seed=seed)
        for count, seed in (
            (request.scenarios, request.seed),
            (request.evaluation_scenarios, request.seed + EVALUATION_SEED_OFFSET),
        )
    ]
    notes.append(
        f"usage history of projects without declared demand: {series.size} {request.period}s, "
        f"forecast with {runs[0].model}"
    )
    return runs[0].scenarios, runs[1].scenarios
