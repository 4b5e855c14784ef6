"""Nodes and their GPUs, as the control plane sees them: pure values, no I/O.

A ``Node`` carries which of its GPUs are allocated (held by a scheduled or running job), so the
free GPUs of a model — what a gang can be placed on — are computed, never stored.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class NodeState(enum.StrEnum):
    UP = "up"
    """Heartbeating; its free GPUs can be scheduled."""
    LOST = "lost"
    """No heartbeat for ``lost_after`` heartbeat periods; its jobs went back to pending."""
    DRAINING = "draining"
    """Runs what it has, takes nothing new (reserved: nothing sets it in v1)."""
    QUARANTINED = "quarantined"
    """Shown, not stored: delivered by a purchase order and heartbeating, its acceptance test
    not judged yet — none of its GPUs is scheduled."""
    REJECTED = "rejected"
    """Shown, not stored: every GPU failed acceptance; never scheduled."""


class Acceptance(enum.StrEnum):
    """Whether a node's (or a GPU's) acceptance test lets the scheduler use it."""

    NOT_REQUIRED = "not_required"
    """A machine added by hand (no purchase order behind it): trusted as registered."""
    PENDING = "pending"
    """Delivered; the acceptance test is not judged yet."""
    PASSED = "passed"
    FAILED = "failed"

    @property
    def schedulable(self) -> bool:
        return self in (Acceptance.NOT_REQUIRED, Acceptance.PASSED)


SCHEDULABLE = tuple(a.value for a in Acceptance if a.schedulable)
"""The acceptance values (as stored) whose nodes and GPUs the scheduler may use."""


def shown_state(liveness: NodeState, acceptance: Acceptance) -> NodeState:
    """What users see: an ``up`` node is ``quarantined`` until judged and ``rejected`` when no
    GPU passed; ``lost`` (and ``draining``) show as they are."""
    if liveness is not NodeState.UP:
        return liveness
    if acceptance is Acceptance.PENDING:
        return NodeState.QUARANTINED
    if acceptance is Acceptance.FAILED:
        return NodeState.REJECTED
    return liveness


@dataclass(frozen=True, slots=True, kw_only=True)
class Gpu:
    index: int
    """The device index on its node (NVML order)."""
    model: str
    """Canonical GPU model id where the GPU table knows the name, else the name as reported."""
    memory_gib: float
    uuid: str = ""
    simulated: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    id: int
    name: str
    state: NodeState
    gpus: tuple[Gpu, ...]
    allocated: frozenset[int] = frozenset()
    """Indices of GPUs held by scheduled or running jobs."""

    def free_indices(self, model: str) -> tuple[int, ...]:
        """Free GPUs of ``model``, by index."""
        return tuple(
            sorted(g.index for g in self.gpus if g.model == model and g.index not in self.allocated)
        )

    def count(self, model: str) -> int:
        """All GPUs of ``model`` on this node, free or not."""
        return sum(1 for g in self.gpus if g.model == model)


def first_fit(
    nodes: tuple[Node, ...], model: str, gpus: int
) -> tuple[Node, tuple[int, ...]] | None:
    """The first up node by name with ``gpus`` free GPUs of ``model``, and the lowest such
    indices; ``None`` if no node can hold the whole gang (gangs never span nodes)."""
    for node in sorted(nodes, key=lambda n: n.name):
        if node.state is not NodeState.UP:
            continue
        free = node.free_indices(model)
        if len(free) >= gpus:
            return node, free[:gpus]
    return None
