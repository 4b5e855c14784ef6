"""API schemas of accounting (usage cost, idle cost, budgets) and supplier scorecards."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel


class CostRowPublic(BaseModel):
    day: dt.date
    project: str
    supplier: str | None
    contract: str | None
    gpu: str
    gpu_hours: float
    cost_usd: float
    unpriced_gpu_hours: float


class CostTotal(BaseModel):
    gpu_hours: float
    cost_usd: float


class CostReport(BaseModel):
    since: dt.datetime
    until: dt.datetime
    rows: list[CostRowPublic]
    """GPU-hours and dollars per UTC day, project, supplier, contract and GPU model."""
    by_project: dict[str, CostTotal]
    by_supplier: dict[str, CostTotal]
    total: CostTotal
    unpriced_gpu_hours: float
    """GPU-hours on machines with no contract price (counted at $0)."""


class IdleRowPublic(BaseModel):
    supplier: str | None
    gpu: str
    paid_gpu_hours: float
    allocated_gpu_hours: float
    idle_gpu_hours: float
    paid_usd: float
    idle_usd: float
    utilisation: float | None


class IdleReport(BaseModel):
    since: dt.datetime
    until: dt.datetime
    rows: list[IdleRowPublic]


class BudgetPublic(BaseModel):
    project: str
    month: str
    budget_usd: float | None
    spent_usd: float
    fraction: float | None
    alerts: list[float]
    """Thresholds (0.8, 1.0) whose alert was raised this month."""


class ScorecardPublic(BaseModel):
    supplier: str
    orders: int
    on_time: int
    late: int
    on_time_rate: float | None
    gpus_tested: int
    gpus_failed: int
    acceptance_failure_rate: float | None
    node_failures: int
    mtbf_hours: float | None
    node_hours: float
    paid_usd: float
    list_usd_per_gpu_hour: float | None
    effective_usd_per_useful_gpu_hour: float | None
    reliability: float
    """What the planner multiplies this supplier's delivered capacity by."""


class EventPublic(BaseModel):
    id: int
    at: dt.datetime
    kind: str
    """Dotted subject.verb: ``job.scheduled``, ``node.lost``, ``budget.alert``, ..."""
    job: int | None
    node: int | None
    message: str


class AllocationPublic(BaseModel):
    """GPUs a job held on a node from ``started_at`` (scheduled) to ``ended_at`` (open: now)."""

    id: int
    job: int
    project: str
    node: str
    gpu: str
    gpu_indices: list[int]
    supplier: str | None
    contract: str | None
    price_usd_per_gpu_hour: float | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
