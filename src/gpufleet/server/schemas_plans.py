"""API schemas of declared demand and procurement plans."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from gpufleet.domain.offer import ContractKind
from gpufleet.server.schemas import NO_NUL, Name, Strict

Gpus = Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)]


class DemandCreate(Strict):
    """GPUs of one model a project needs busy on average over ``[start, end)``, with a 5th
    (``low``) and 95th (``high``) percentile; both default to ``expected``."""

    project: Name
    gpu: Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)] = "H100-SXM"
    start: datetime
    end: datetime
    expected_gpus: Gpus
    low_gpus: Gpus | None = None
    high_gpus: Gpus | None = None
    note: Annotated[str, Field(max_length=2000, pattern=NO_NUL)] = ""


class DemandPublic(BaseModel):
    id: int
    project: str
    gpu: str
    start: datetime
    end: datetime
    expected_gpus: float
    low_gpus: float
    high_gpus: float
    note: str


class PlanCreate(Strict):
    period: Annotated[str, Field(pattern="^(day|week|month)$")] = "week"
    horizon: Annotated[int, Field(ge=1, le=156)] = 26
    start: datetime | None = None
    """First period's start (default: today, 00:00 UTC)."""
    scenarios: Annotated[int, Field(ge=1, le=1000)] = 100
    evaluation_scenarios: Annotated[int, Field(ge=1, le=2000)] = 100
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 1
    unmet_penalty_usd_per_gpu_hour: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 20.0
    max_supplier_share: Annotated[float, Field(gt=0, le=1)] | None = None
    contracts: list[ContractKind] = Field(default_factory=lambda: list(ContractKind))
    gpus: list[Annotated[str, Field(min_length=1, pattern=NO_NUL)]] = Field(default_factory=list)
    """GPU models (or families) to consider; empty: all."""
    suppliers: list[Name] = Field(default_factory=list)
    max_per_contract: Annotated[int, Field(ge=1, le=100)] = 12
    reference_gpu: Annotated[str, Field(min_length=1, pattern=NO_NUL)] = "H100-SXM"
    use_history: bool = True
    """Forecast projects that declared nothing from their usage history."""
    use_reliability: bool = True
    """Derate each supplier's deliveries by its scorecard's reliability."""
    mip_gap: Annotated[float, Field(gt=0, lt=1)] = 0.01
    time_limit_s: Annotated[float, Field(gt=0, le=3600)] = 60.0


class PlanOrderPublic(BaseModel):
    option: str
    supplier: str
    gpu: str | None
    contract: ContractKind
    units: int
    gpus: float
    start_period: int
    order_at: datetime
    offer: int | None
    """The offer it buys (``None`` if the offer was deleted since)."""
    cost_usd: float


class PlanPublic(BaseModel):
    id: int
    state: str
    created_at: datetime
    created_by: str
    start: datetime
    period: str
    horizon: int
    orders: list[PlanOrderPublic]
    expected_cost_usd: float
    gap_to_bound: float | None
    beats_every_baseline: bool
    evaluations: list[dict[str, Any]]
    reliability: dict[str, float]
    notes: list[str]
    diagnosis: list[str]
    accepted_at: datetime | None
    purchase_orders: list[int]


class PlanAccepted(BaseModel):
    plan: PlanPublic
    submitted: list[int]
    """Orders submitted at once (their period has come); the rest wait as drafts."""
