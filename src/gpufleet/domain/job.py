"""Jobs and their state machine, as the control plane runs them.

::

    pending ──► scheduled ──► running ──► succeeded
       ▲  │         │            │  ├──► failed
       │  │         │            │  └──► preempted ──► pending
       │  │         └──► pending (the node was lost before the job started)
       │  └──────────────────────────────► cancelled   (from pending, scheduled or running)
       └── running / scheduled ── node lost ──► pending

``scheduled``: the scheduler gave the job GPUs on a node; the node's agent has not started it
yet. ``preempted`` is passed through on the way back to ``pending`` (the agent stopped it so
another job could run). ``succeeded``, ``failed`` and ``cancelled`` are final. Every change goes
through ``transition``, which refuses anything else — the API enforces the machine through it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class JobState(enum.StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PREEMPTED = "preempted"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in FINAL

    @property
    def holds_gpus(self) -> bool:
        """Scheduled and running jobs hold their allocation."""
        return self in (JobState.SCHEDULED, JobState.RUNNING)


FINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})

ALLOWED: dict[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset({JobState.SCHEDULED, JobState.CANCELLED}),
    JobState.SCHEDULED: frozenset({JobState.RUNNING, JobState.PENDING, JobState.CANCELLED}),
    JobState.RUNNING: frozenset(
        {
            JobState.SUCCEEDED,
            JobState.FAILED,
            JobState.PREEMPTED,
            JobState.PENDING,
            JobState.CANCELLED,
        }
    ),
    JobState.PREEMPTED: frozenset({JobState.PENDING}),
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
}


class TransitionError(ValueError):
    """A state change the job state machine does not allow."""

    def __init__(self, current: JobState, target: JobState) -> None:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[current])) or "none (final)"
        super().__init__(f"a {current.value} job cannot become {target.value} (allowed: {allowed})")
        self.current = current
        self.target = target


def transition(current: JobState, target: JobState) -> JobState:
    """``target`` if the machine allows ``current -> target``, else ``TransitionError``."""
    if target not in ALLOWED[current]:
        raise TransitionError(current, target)
    return target


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec:
    """What a user asks for: a command and the GPUs it needs."""

    project: str
    command: tuple[str, ...]
    gpus: int = 1
    """Whole GPUs (at least 1), all on one node (a gang)."""
    gpu_models: tuple[str, ...] = ()
    """Canonical GPU model ids allowed; empty: any."""
    priority: int = 0
    name: str = ""
    time_limit_s: float | None = None
    """Most seconds it may run (stopped after it, like Slurm's ``--time``); ``None``: no limit.
    The scheduler also takes it as the job's run-time estimate for backfill."""

    def __post_init__(self) -> None:
        problems = []
        if self.time_limit_s is not None and not self.time_limit_s > 0:
            problems.append(f"time_limit_s must be > 0, got {self.time_limit_s}")
        if not self.command or not all(part for part in self.command):
            problems.append("command must be a non-empty list of non-empty arguments")
        if self.gpus < 1:
            problems.append(f"gpus must be at least 1, got {self.gpus}")
        if not self.project:
            problems.append("project is required")
        if problems:
            raise ValueError("; ".join(problems))
