"""API schemas (pydantic v2), one family per resource: ``XCreate`` in, ``XPublic`` out.

They mirror ``docs/api.md`` field for field. Schema rules (types, ranges) are checked here and
answered with FastAPI's 422 body, which names the field; rules that need the database or the GPU
table (unknown project, unknown GPU model, a gang larger than any node) are the services' (400).
What the database cannot store is a schema rule too: integers bound for an ``Integer`` column fit
32 bits (``Int32``), and stored text has no NUL character (``NO_NUL``), so such input is a 422
naming the field rather than a database error.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from gpufleet.domain.fleet import Acceptance, NodeState
from gpufleet.domain.job import JobState

MAX_TIME_LIMIT_S = 365 * 86400
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
NO_NUL = r"^[^\x00]*$"
"""Text the database stores or looks up: PostgreSQL's text cannot hold NUL (U+0000), so a string
with one is refused (422) on every backend, before it reaches a query."""
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=NAME_PATTERN)]
NodeName = Annotated[str, Field(min_length=1, max_length=255, pattern=NO_NUL)]
UserName = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
Argument = Annotated[str, Field(min_length=1, pattern=NO_NUL)]
"""A command-line argument (no process can be given one with NUL in it)."""

INT32_MAX = 2**31 - 1
"""The largest value an ``Integer`` column holds on every backend (PostgreSQL's ``integer``;
SQLite's are 64-bit). Integers bound for the database are checked against it here, so a larger
one is a 422 naming the field, not a database error."""
Int32 = Annotated[int, Field(ge=-INT32_MAX - 1, le=INT32_MAX)]
MAX_TOKEN_TTL_S = 100 * 365 * 86_400
"""A token lives at most about 100 years (its expiry must be a representable date)."""


class Role(enum.StrEnum):
    ADMIN = "admin"
    MEMBER = "member"
    AGENT = "agent"


class Strict(BaseModel):
    """User-facing input: an unknown field is an error (a typo must not be silently dropped)."""

    model_config = ConfigDict(extra="forbid")


class Lenient(BaseModel):
    """Agent protocol input: unknown fields are ignored, so agents and servers can be upgraded
    one at a time."""

    model_config = ConfigDict(extra="ignore")


class Health(BaseModel):
    status: str
    database: str


class TokenCreate(Strict):
    user: UserName
    role: Role
    project: Name | None = None
    """Required for ``member``."""
    node: NodeName | None = None
    """Required for ``agent``: the node name it may register and heartbeat as."""
    ttl_s: Annotated[int, Field(gt=0, le=MAX_TOKEN_TTL_S)] | None = None


class TokenPublic(BaseModel):
    token: str
    """Shown once; only its SHA-256 is stored."""
    user: str
    role: Role
    project: str | None
    expires_at: datetime | None


class ProjectCreate(Strict):
    name: Name
    quota: dict[str, Annotated[int, Field(ge=0, le=INT32_MAX)]] = Field(default_factory=dict)
    budget_usd: Annotated[float, Field(ge=0)] | None = None
    weight: Annotated[float, Field(gt=0)] = 1.0


class ProjectPublic(BaseModel):
    name: str
    quota: dict[str, int]
    budget_usd: float | None
    weight: float
    running_gpus: int
    """GPUs held by its scheduled and running jobs."""
    pending_jobs: int


class JobCreate(Strict):
    project: Name
    command: Annotated[list[Argument], Field(min_length=1)]
    gpus: Annotated[int, Field(ge=1)] = 1
    gpu_models: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    """GPU models (any alias) or families (``A100``: every A100); empty: any model."""
    priority: Int32 = 0
    name: Annotated[str, Field(max_length=200, pattern=NO_NUL)] = ""
    time_limit_s: Annotated[int, Field(ge=1, le=MAX_TIME_LIMIT_S)] | None = None
    """Stopped after this many seconds of running; also the scheduler's run-time estimate
    for backfill (without it: the server's default estimate, and no limit)."""


class JobPublic(BaseModel):
    id: int
    project: str
    name: str
    command: list[str]
    gpus: int
    gpu_models: list[str]
    priority: int
    state: JobState
    node: str | None
    gpu_indices: list[int]
    exit_code: int | None
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    time_limit_s: int | None = None


class LogLine(BaseModel):
    seq: int
    text: str


class LogPage(BaseModel):
    lines: list[LogLine]
    next: int
    """Pass as ``after`` to read on."""


class GpuPublic(BaseModel):
    index: int
    model: str
    memory_gib: float
    utilisation_pct: float | None
    memory_used_gib: float | None
    temperature_c: float | None
    power_w: float | None
    simulated: bool
    acceptance: Acceptance = Acceptance.NOT_REQUIRED
    acceptance_note: str = ""


class NodePublic(BaseModel):
    id: int
    name: str
    state: NodeState
    """``up``/``lost``; an up node waiting for (or failing) acceptance shows ``quarantined``
    (``rejected``)."""
    simulated: bool
    gpus: list[GpuPublic]
    last_heartbeat: datetime
    acceptance: Acceptance = Acceptance.NOT_REQUIRED
    supplier: str | None = None
    purchase_order: int | None = None
    price_usd_per_gpu_hour: float | None = None


class GpuRegister(Lenient):
    index: Annotated[int, Field(ge=0, le=INT32_MAX)]
    model: Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
    memory_gib: Annotated[float, Field(ge=0)]
    uuid: Annotated[str, Field(max_length=100, pattern=NO_NUL)] = ""


class NodeRegister(Lenient):
    name: NodeName
    gpus: list[GpuRegister] = Field(default_factory=list)
    simulated: bool = False
    cpu_count: Annotated[int, Field(ge=0, le=INT32_MAX)] = 0
    memory_gib: Annotated[float, Field(ge=0)] = 0.0


class GpuTelemetry(Lenient):
    index: Annotated[int, Field(ge=0)]
    utilisation_pct: float | None = None
    memory_used_gib: float | None = None
    temperature_c: float | None = None
    power_w: float | None = None


class Heartbeat(Lenient):
    node: NodeName
    telemetry: list[GpuTelemetry] = Field(default_factory=list)
    running: list[int] = Field(default_factory=list)
    """Ids of the jobs the agent runs now."""


class JobStart(BaseModel):
    job: int
    command: list[str]
    gpu_indices: list[int]
    env: dict[str, str]


class ExpectedGpu(BaseModel):
    index: int
    model: str
    """The canonical model the purchase order promised."""
    memory_gib: float | None


class AcceptanceRequest(BaseModel):
    """An acceptance test for the agent to run (``docs/api.md``)."""

    test: int
    burn_in_s: float
    gpus: list[ExpectedGpu]


class Assignments(BaseModel):
    start: list[JobStart]
    stop: list[int]
    """Job ids to SIGTERM."""
    heartbeat_s: float
    acceptance: AcceptanceRequest | None = None
    """The acceptance test to run (a delivered node, until it is judged)."""


class JobStarted(Lenient):
    pass


class JobLogs(Lenient):
    lines: list[str]


class JobFinished(Lenient):
    exit_code: Int32
    stopped: bool = False


class Empty(BaseModel):
    pass
