"""The scheduler core: ``decide(policy, context) -> list[Action]``.

One pure function that both drivers call — the simulator on a virtual clock, the server's
scheduler loop on the wall clock. Time comes only from ``context.now``.

The context holds the active jobs (pending and running) as parallel NumPy arrays, so a policy
works on whole columns: at trace scale the scheduler runs tens of thousands of rounds over
hundreds of active jobs, and per-job Python objects would dominate the run time.

A policy answers one question — which jobs should run in the next round, and on which GPU type
(``Policy.assign``: a GPU-type index per job, -1 for none). ``decide`` turns that into actions
against what runs now: ``Preempt`` for a running job that should stop or move, ``Start`` for a
job that should start or move. A job keeps running where it is when the assignment keeps it
there. Gangs are all or nothing: a job's ``gpus`` GPUs of one type start together or not at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Int = NDArray[np.int64]
Float = NDArray[np.float64]
NOT_RUNNING = -1


@dataclass(frozen=True, slots=True)
class Start:
    job: int
    """The job's id."""
    gpu_type: int
    """Index into ``Context.gpu_types``."""
    gpus: int


@dataclass(frozen=True, slots=True)
class Preempt:
    job: int


Action = Start | Preempt


@dataclass(slots=True, kw_only=True)
class Context:
    """What a policy sees: the clock, the cluster and the active jobs (one row each)."""

    now: float
    round_s: float
    """How long the assignment will hold (a scheduling round)."""
    gpu_types: tuple[str, ...]
    capacity: Int
    """(K,) healthy GPUs of each type."""
    job_id: Int
    gpus: Int
    """(n,) gang size: GPUs the job needs at once, all of one type."""
    throughput: Float
    """(n, K) steps per second of the whole job on each GPU type (0: cannot run there)."""
    remaining_steps: Float
    arrival_s: Float
    attained_gpu_s: Float
    """(n,) GPU-seconds of service received so far (Tiresias' attained service)."""
    time_on_type: Float
    """(n, K) seconds run on each GPU type so far."""
    current_type: Int
    """(n,) the GPU type a job runs on now, ``NOT_RUNNING`` if none."""
    busy_s: Float | None = None
    """(K,) GPU-seconds run on each type since the start, by every job (finished ones too)."""
    priority: Int = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """(n,) larger runs first (priority policies); zeros if unused."""
    project: Int = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """(n,) index into ``projects``."""
    projects: tuple[str, ...] = ("default",)
    deadline_s: Float = field(default_factory=lambda: np.zeros(0))
    """(n,) absolute deadlines, NaN where a job has none."""
    cpu_milli: Float = field(default_factory=lambda: np.zeros(0))
    """(n,) CPU the job holds while it runs (milli-cores; zeros when not modelled)."""
    memory_mib: Float = field(default_factory=lambda: np.zeros(0))
    cpu_capacity_milli: float = 0.0
    """Cluster CPU (0: not modelled — fair share then counts GPUs only)."""
    memory_capacity_mib: float = 0.0
    quota: Mapping[str, Int] = field(default_factory=dict)
    """Per project: GPUs of each type it is guaranteed (``(K,)``)."""
    weight: Mapping[str, float] = field(default_factory=dict)
    """Per project: fair-share weight (1 if absent)."""

    def __post_init__(self) -> None:
        n = self.job_id.size
        if self.priority.size == 0:
            self.priority = np.zeros(n, dtype=np.int64)
        if self.project.size == 0:
            self.project = np.zeros(n, dtype=np.int64)
        if self.deadline_s.size == 0:
            self.deadline_s = np.full(n, np.nan)
        if self.cpu_milli.size == 0:
            self.cpu_milli = np.zeros(n)
        if self.memory_mib.size == 0:
            self.memory_mib = np.zeros(n)

    @property
    def jobs(self) -> int:
        return int(self.job_id.size)

    @property
    def running(self) -> NDArray[np.bool_]:
        return np.asarray(self.current_type != NOT_RUNNING, dtype=np.bool_)


class Policy(ABC):
    """A scheduling policy: one file each under ``scheduling/policies/``, registered by name.

    Every policy takes ``seed`` (for its random choices, if any) as a keyword; a policy object
    may keep state between rounds, so each run gets a fresh one (``make_policy``)."""

    name: str = ""

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed
        self._claimed = False

    def claim(self) -> None:
        """Mark the policy as driving one run; a second run must get a fresh one, since the
        state a policy keeps between rounds would carry over (``make_policy``)."""
        if getattr(self, "_claimed", False):
            msg = f"policy {self.name!r} already drove a run: make a fresh one for each run"
            raise ValueError(msg)
        self._claimed = True

    @abstractmethod
    def assign(self, context: Context) -> Int:
        """(n,) the GPU type each job should run on in the next round, or ``NOT_RUNNING``.
        Must respect capacity: per type, the assigned jobs' ``gpus`` sum to at most
        ``capacity``."""


_REGISTRY: dict[str, Callable[..., Policy]] = {}


def register(name: str) -> Callable[[type[Policy]], type[Policy]]:
    def add(cls: type[Policy]) -> type[Policy]:
        if name in _REGISTRY:
            msg = f"policy {name!r} registered twice"
            raise ValueError(msg)
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return add


def _load_plugins() -> None:
    import gpufleet.scheduling.policies  # noqa: F401, PLC0415 - registers every policy file


def policy_names() -> list[str]:
    _load_plugins()
    return sorted(_REGISTRY)


def make_policy(name: str, **options: object) -> Policy:
    """A fresh policy object (``seed`` and the policy's own options as keywords)."""
    _load_plugins()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        known = ", ".join(policy_names())
        msg = f"unknown policy {name!r}; known: {known}"
        raise KeyError(msg) from None
    return factory(**options)


@dataclass(frozen=True, slots=True)
class Decision:
    """A round's decision as arrays (what the simulator applies at trace scale); ``actions()``
    spells it out as ``Start`` / ``Preempt`` (what the server applies)."""

    job_id: Int
    current: Int
    target: Int
    gpus: Int

    @property
    def changed(self) -> NDArray[np.bool_]:
        return np.asarray(self.target != self.current, dtype=np.bool_)

    @property
    def preempted(self) -> NDArray[np.bool_]:
        """Rows of running jobs that stop or move."""
        return np.asarray(self.changed & (self.current != NOT_RUNNING), dtype=np.bool_)

    @property
    def started(self) -> NDArray[np.bool_]:
        """Rows of jobs that start or move."""
        return np.asarray(self.changed & (self.target != NOT_RUNNING), dtype=np.bool_)

    def actions(self) -> list[Action]:
        preempt = np.flatnonzero(self.preempted)
        start = np.flatnonzero(self.started)
        out: list[Action] = [Preempt(int(self.job_id[i])) for i in preempt]
        out.extend(
            Start(int(self.job_id[i]), int(self.target[i]), int(self.gpus[i])) for i in start
        )
        return out


def decide_round(policy: Policy, context: Context) -> Decision:
    """The policy's assignment for the next round, checked, beside what runs now."""
    target = np.asarray(policy.assign(context), dtype=np.int64)
    check_assignment(context, target)
    return Decision(context.job_id, context.current_type, target, context.gpus)


def decide(policy: Policy, context: Context) -> list[Action]:
    """The actions that take the cluster from what runs now to what ``policy`` wants next."""
    return decide_round(policy, context).actions()


def check_assignment(context: Context, target: Int) -> None:
    """A policy's assignment must have one entry per job, name known GPU types, fit capacity and
    put jobs only where they can run."""
    if target.shape != (context.jobs,):
        msg = f"assignment has shape {target.shape}, expected ({context.jobs},)"
        raise ValueError(msg)
    k = len(context.gpu_types)
    if ((target < NOT_RUNNING) | (target >= k)).any():
        msg = "assignment names an unknown GPU type"
        raise ValueError(msg)
    placed = target != NOT_RUNNING
    used = np.bincount(target[placed], weights=context.gpus[placed], minlength=k).astype(np.int64)
    if (used > context.capacity).any():
        msg = f"assignment uses {used.tolist()} GPUs; capacity {context.capacity.tolist()}"
        raise ValueError(msg)
    if placed.any() and (context.throughput[np.flatnonzero(placed), target[placed]] <= 0).any():
        msg = "assignment puts a job on a GPU type it cannot run on"
        raise ValueError(msg)
