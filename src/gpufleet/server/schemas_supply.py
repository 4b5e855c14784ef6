"""API schemas of the supply chain: suppliers, offers, purchase orders, acceptance tests.

Same families as ``schemas.py`` (``XCreate`` in, ``XPublic`` out; ``Strict`` for people,
``Lenient`` for agents); ``docs/api.md`` is the contract.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from gpufleet.domain.fleet import NodeState
from gpufleet.domain.offer import ContractKind
from gpufleet.domain.purchase_order import PoState
from gpufleet.server.schemas import INT32_MAX, NO_NUL, Lenient, Name, NodeName, Strict

Text = Annotated[str, Field(max_length=2000, pattern=NO_NUL)]
Label = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class SupplierCreate(Strict):
    name: Name
    display_name: Annotated[str, Field(max_length=200, pattern=NO_NUL)] = ""
    kind: Annotated[str, Field(max_length=32, pattern=NO_NUL)] = "unknown"
    adapter: Annotated[str, Field(min_length=1, max_length=32, pattern=NO_NUL)] = "manual"
    adapter_config: dict[str, Any] = Field(default_factory=dict)


class SupplierPublic(BaseModel):
    name: str
    display_name: str
    kind: str
    adapter: str
    adapter_config: dict[str, Any]
    automatic: bool
    """Whether its adapter moves orders on its own (else a person records each step)."""
    unsupported: dict[str, str]
    """What its adapter cannot do, and why."""
    offers: int


class OfferCreate(Strict):
    supplier: Name
    instance_type: Label
    gpu: Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
    gpus_per_unit: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    contract: ContractKind
    price_usd_per_hour: Money | None = None
    spot_price_usd_per_hour: Money | None = None
    region: Annotated[str, Field(max_length=100, pattern=NO_NUL)] | None = None
    zone: Annotated[str, Field(max_length=100, pattern=NO_NUL)] | None = None
    vcpus: Money | None = None
    memory_gib: Money | None = None
    term_months: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    lead_time_days: Money = 0.0
    min_units: Annotated[int, Field(ge=1, le=INT32_MAX)] = 1
    capacity_units: Annotated[int, Field(ge=1, le=INT32_MAX)] | None = None
    upfront_usd: Money = 0.0
    source: Text = ""


class OfferImport(Strict):
    offers: Annotated[list[OfferCreate], Field(max_length=20_000)]
    adapter: Annotated[str, Field(min_length=1, max_length=32, pattern=NO_NUL)] = "manual"
    """Adapter of suppliers this import creates (existing suppliers keep theirs)."""


class OfferImportResult(BaseModel):
    created: int
    updated: int
    suppliers_created: list[str]


class OfferPublic(BaseModel):
    id: int
    supplier: str
    instance_type: str
    gpu: str
    gpus_per_unit: float
    contract: ContractKind
    price_usd_per_hour: float | None
    spot_price_usd_per_hour: float | None
    usd_per_gpu_hour: float | None
    """All-in (upfront spread over the term) contract price of one GPU-hour."""
    region: str | None
    zone: str | None
    term_months: float | None
    lead_time_days: float
    min_units: int
    capacity_units: int | None
    upfront_usd: float
    source: str


class PurchaseOrderCreate(Strict):
    """From an offer (``offer``: its id) or by hand (``supplier``, ``gpu``, prices, ...)."""

    offer: Annotated[int, Field(ge=1, le=INT32_MAX)] | None = None
    supplier: Name | None = None
    gpu: Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)] | None = None
    gpus_per_unit: Annotated[int, Field(ge=1)] | None = None
    contract: ContractKind | None = None
    price_usd_per_unit_hour: Money | None = None
    upfront_usd_per_unit: Money | None = None
    term_months: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    lead_time_days: Money | None = None
    units: Annotated[int, Field(ge=1, le=10_000)] = 1
    submit: bool = False
    """Send it to the supplier at once (else it stays a draft)."""
    note: Text = ""


class PoEventPublic(BaseModel):
    at: datetime
    from_state: PoState | None
    to_state: PoState
    by: str
    note: str


class PurchaseOrderPublic(BaseModel):
    id: int
    supplier: str
    gpu: str
    units: int
    gpus_per_unit: int
    gpus: int
    contract: ContractKind
    price_usd_per_unit_hour: float
    upfront_usd_per_unit: float
    term_months: float | None
    lead_time_days: float
    usd_per_gpu_hour: float
    state: PoState
    plan: int | None
    order_at: datetime
    submitted_at: datetime | None
    promised_at: datetime | None
    delivered_at: datetime | None
    closed_at: datetime | None
    gpus_passed: int
    gpus_failed: int
    note: str
    nodes: list[str]
    history: list[PoEventPublic]


class PoTransition(Strict):
    to: PoState
    note: Text = ""


class PoDeliver(Strict):
    nodes: Annotated[list[NodeName], Field(min_length=1, max_length=1000)]
    """Names of the delivered machines (each gets an agent token, shown once)."""


class DeliveredNode(BaseModel):
    name: str
    token: str | None
    """The node's agent token (shown once); ``None`` when a provisioner started its agent."""


class PoDelivered(BaseModel):
    order: PurchaseOrderPublic
    nodes: list[DeliveredNode]


class GpuCheckIn(Lenient):
    index: Annotated[int, Field(ge=0)]
    name: Annotated[str, Field(max_length=200, pattern=NO_NUL)] = ""
    model: Annotated[str, Field(max_length=100, pattern=NO_NUL)] = ""
    memory_gib: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    uuid: Annotated[str, Field(max_length=100, pattern=NO_NUL)] = ""
    ecc_errors: Annotated[int, Field(ge=0)] | None = None
    xid_errors: Annotated[int, Field(ge=0)] | None = None
    max_temperature_c: Annotated[float, Field(allow_inf_nan=False)] | None = None
    max_power_w: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    burn_in: Annotated[str, Field(pattern="^(torch|simulated|skipped)$")] = "skipped"
    bf16_tflops: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    memory_bandwidth_gbps: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    detail: Annotated[str, Field(max_length=4000, pattern=NO_NUL)] = ""


class AcceptanceReport(Lenient):
    node: NodeName
    results: Annotated[list[GpuCheckIn], Field(max_length=1024)]


class GpuVerdict(BaseModel):
    index: int
    passed: bool
    reasons: list[str]
    notes: list[str] = Field(default_factory=list)


class AcceptanceVerdict(BaseModel):
    test: int
    node_state: NodeState
    gpus: list[GpuVerdict]
