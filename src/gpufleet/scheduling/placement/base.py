"""The placement-strategy plug-in kind: one base, one signature, one registry.

Every strategy is a class in its own file, registered with ``@register("name")`` and built by
``create(name, context)``. Its one entry point is ``place(state, request) -> Placement | None``.

Most strategies score nodes: subclasses of ``ScoringStrategy`` implement
``score_nodes(state, nodes, request)`` (integer scores, higher is better, vectorised over the
given nodes) and ``choose_gpus(state, node, request)``. The base does the rest, as the FGD
authors' simulator does: filter feasible nodes, take the highest score, break ties by the
cluster's node priority (lower wins). Scores are cached per request shape and recomputed only
for nodes whose state changed since (``ClusterState.version``), so a placement costs work
proportional to what changed, not to the cluster size.

Adding a strategy: a new file in this package with a ``@register`` class, an entry in
``__init__.py``'s import list, a test, and a line in ``docs/placement.md``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol, TypeVar

import numpy as np

from gpufleet.scheduling.placement.request import MILLI_PER_GPU, Placement, PlacementRequest
from gpufleet.scheduling.placement.state import ClusterState, Int
from gpufleet.scheduling.placement.target import TargetWorkload


@dataclass(frozen=True, slots=True)
class StrategyContext:
    """What a strategy may need beyond the state and the request, given when it is built."""

    seed: int = 0
    """For strategies that draw random numbers (each builds its own generator from it)."""
    target: TargetWorkload | None = None
    """The expected workload, for fragmentation-aware strategies (FGD)."""


class PlacementStrategy(Protocol):
    name: ClassVar[str]

    def place(self, state: ClusterState, request: PlacementRequest) -> Placement | None:
        """Where to put ``request`` now, or ``None`` if no node can take it. Changes nothing."""
        ...


_REGISTRY: dict[str, Callable[[StrategyContext], PlacementStrategy]] = {}
T = TypeVar("T", bound=PlacementStrategy)


def register(name: str) -> Callable[[type[T]], type[T]]:
    """Class decorator: make a strategy available as ``create(name, context)``."""

    def add(cls: type[T]) -> type[T]:
        if name in _REGISTRY:
            msg = f"placement strategy {name!r} is registered twice"
            raise ValueError(msg)
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return add


def create(name: str, context: StrategyContext | None = None) -> PlacementStrategy:
    try:
        factory = _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        msg = f"unknown placement strategy {name!r}; known: {known}"
        raise KeyError(msg) from None
    return factory(context or StrategyContext())


def names() -> list[str]:
    return sorted(_REGISTRY)


def first_free_gpus(state: ClusterState, node: int, count: int) -> tuple[int, ...]:
    """The first ``count`` fully free GPUs of a node, in index order."""
    free = np.flatnonzero(state.gpu_free[node] == MILLI_PER_GPU)
    return tuple(int(g) for g in free[:count])


def best_fit_gpus(state: ClusterState, node: int, request: PlacementRequest) -> tuple[int, ...]:
    """GPU choice "best": a fractional request takes the GPU with the least free milli that still
    fits (lowest index on ties); whole-GPU requests take the first fully free GPUs."""
    if request.num_gpu == 0:
        return ()
    if not request.is_fractional:
        return first_free_gpus(state, node, request.num_gpu)
    free = state.gpu_free[node]
    fits = np.flatnonzero(free >= request.gpu_milli)
    return (int(fits[np.argmin(free[fits])]),)


class ScoringStrategy(abc.ABC):
    """A strategy that scores every feasible node and takes the best (see module docstring)."""

    name: ClassVar[str]

    def __init__(self, context: StrategyContext) -> None:
        self.context = context
        self._owner: ClusterState | None = None
        self._cache: dict[object, tuple[Int, Int]] = {}

    @abc.abstractmethod
    def score_nodes(self, state: ClusterState, nodes: Int, request: PlacementRequest) -> Int:
        """Integer score of each node in ``nodes`` for ``request`` (higher is better).

        Must depend only on the nodes' state and ``request.shape``. Infeasible nodes may get
        any value: they are filtered out before the choice.
        """

    def choose_gpus(
        self, state: ClusterState, node: int, request: PlacementRequest
    ) -> tuple[int, ...]:
        return best_fit_gpus(state, node, request)

    def scores(self, state: ClusterState, request: PlacementRequest) -> Int:
        """Scores of all nodes, from the cache where the node has not changed.

        Returns the cache's own array: read it, never write to it.
        """
        if self._owner is not state:
            self._owner, self._cache = state, {}
        entry = self._cache.get(request.shape)
        if entry is None:
            entry = (np.zeros(state.size, dtype=np.int64), np.full(state.size, -1, dtype=np.int64))
            self._cache[request.shape] = entry
        values, versions = entry
        dirty = np.flatnonzero(versions != state.version)
        if dirty.size:
            values[dirty] = self.score_nodes(state, dirty, request)
            versions[dirty] = state.version[dirty]
        return values

    def place(self, state: ClusterState, request: PlacementRequest) -> Placement | None:
        candidates = np.flatnonzero(state.feasible(request))
        if candidates.size == 0:
            return None
        scores = self.scores(state, request)[candidates]
        tied = candidates[scores == scores.max()]
        node = int(tied[np.argmin(state.priority[tied])])
        return Placement(node, self.choose_gpus(state, node, request), request.gpu_milli)
