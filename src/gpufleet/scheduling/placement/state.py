"""Cluster state for placement, held in NumPy arrays so strategies score every node at once.

Per node: free CPU milli, free memory MiB, free milli of each GPU (``-1`` marks a GPU slot the node
does not have), GPU count, GPU model, a tie-break priority (lower wins) and a version counter that
grows whenever the node's state changes, so strategies can cache per-node scores and recompute
only the nodes that changed. Per node it also counts the GPU pods it holds by shape (fractional,
1-GPU ... 8-GPU), which GPU-clustering strategies read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import NDArray

from gpufleet.scheduling.placement.request import MILLI_PER_GPU, Placement, PlacementRequest

ABSENT = -1
"""Free milli of a GPU slot the node does not have."""

Int = NDArray[np.int64]
Bool = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class NodeSpec:
    name: str
    cpu_milli: int
    memory_mib: int
    gpus: int
    model: str

    def __post_init__(self) -> None:
        if self.cpu_milli < 0 or self.memory_mib < 0 or self.gpus < 0:
            msg = f"node {self.name!r}: cpu_milli, memory_mib and gpus must be >= 0"
            raise ValueError(msg)


class ClusterState:
    """Mutable cluster state: capacities, free resources and per-node bookkeeping."""

    def __init__(
        self, nodes: Sequence[NodeSpec], priority: Sequence[int] | NDArray[np.int64] | None = None
    ) -> None:
        if not nodes:
            msg = "a cluster needs at least one node"
            raise ValueError(msg)
        n = len(nodes)
        self.names: tuple[str, ...] = tuple(node.name for node in nodes)
        self.models: tuple[str, ...] = tuple(sorted({node.model for node in nodes}))
        model_index = {m: i for i, m in enumerate(self.models)}
        self.max_gpus = max(1, *(node.gpus for node in nodes))
        self.cpu_capacity: Int = np.array([node.cpu_milli for node in nodes], dtype=np.int64)
        self.memory_capacity: Int = np.array([node.memory_mib for node in nodes], dtype=np.int64)
        self.gpu_count: Int = np.array([node.gpus for node in nodes], dtype=np.int64)
        self.model: Int = np.array([model_index[node.model] for node in nodes], dtype=np.int64)
        slots = np.arange(self.max_gpus)[None, :]
        self.gpu_present: Bool = slots < self.gpu_count[:, None]
        self.cpu_free: Int = self.cpu_capacity.copy()
        self.memory_free: Int = self.memory_capacity.copy()
        self.gpu_free: Int = np.where(self.gpu_present, MILLI_PER_GPU, ABSENT).astype(np.int64)
        self.pod_shapes: Int = np.zeros((n, self.max_gpus + 1), dtype=np.int64)
        """Column 0 counts fractional-GPU pods; column k counts k-GPU pods."""
        self.version: Int = np.zeros(n, dtype=np.int64)
        order = np.arange(n) if priority is None else np.asarray(priority, dtype=np.int64)
        if sorted(order.tolist()) != list(range(n)):
            msg = f"priority must be a permutation of 0..{n - 1}, one per node; got {len(order)}"
            raise ValueError(msg)
        self.priority: Int = order
        self._model_masks: dict[frozenset[str], Bool] = {}

    @property
    def size(self) -> int:
        return len(self.names)

    @property
    def gpu_capacity_milli(self) -> int:
        return int(self.gpu_count.sum()) * MILLI_PER_GPU

    def allocated_gpu_milli(self) -> int:
        return self.gpu_capacity_milli - int(np.maximum(self.gpu_free, 0).sum())

    def total_gpu_free(self, nodes: Int | slice = slice(None)) -> Int:
        return cast("Int", np.maximum(self.gpu_free[nodes], 0).sum(axis=1))

    def model_allowed(self, models: frozenset[str] | None) -> Bool:
        """Per node: is its GPU model one of ``models`` (all True for ``None``)."""
        if models is None:
            return np.ones(self.size, dtype=np.bool_)
        mask = self._model_masks.get(models)
        if mask is None:
            allowed = np.array([m in models for m in self.models], dtype=np.bool_)
            mask = allowed[self.model]
            self._model_masks[models] = mask
        return mask

    def feasible(self, request: PlacementRequest) -> Bool:
        """Per node: can the request be placed there now (CPU, memory, GPUs, model)."""
        ok = (self.cpu_free >= request.cpu_milli) & (self.memory_free >= request.memory_mib)
        if request.num_gpu == 0:
            return ok
        if request.gpu_models is not None:
            ok &= self.model_allowed(request.gpu_models)
        fits = self.gpu_free >= request.gpu_milli
        enough = fits.any(axis=1) if request.num_gpu == 1 else fits.sum(axis=1) >= request.num_gpu
        return cast("Bool", ok & enough)

    def allocate(self, request: PlacementRequest, placement: Placement) -> None:
        """Apply a placement. Raises ``ValueError`` (changing nothing) if it does not fit."""
        node = placement.node
        if not 0 <= node < self.size:
            msg = f"placement names node {node}; the cluster has nodes 0..{self.size - 1}"
            raise ValueError(msg)
        if len(set(placement.gpus)) != len(placement.gpus):
            msg = f"placement names a GPU twice: {placement.gpus}"
            raise ValueError(msg)
        if len(placement.gpus) != request.num_gpu:
            msg = f"placement takes {len(placement.gpus)} GPUs, request asks for {request.num_gpu}"
            raise ValueError(msg)
        if self.cpu_free[node] < request.cpu_milli or self.memory_free[node] < request.memory_mib:
            msg = (
                f"node {self.names[node]} has {self.cpu_free[node]} CPU milli and "
                f"{self.memory_free[node]} MiB free; {request.name or 'the request'} asks for "
                f"{request.cpu_milli} and {request.memory_mib}"
            )
            raise ValueError(msg)
        for gpu in placement.gpus:
            if not 0 <= gpu < self.gpu_count[node] or self.gpu_free[node, gpu] < request.gpu_milli:
                msg = f"GPU {gpu} of node {self.names[node]} cannot take {request.gpu_milli} milli"
                raise ValueError(msg)
        if request.num_gpu and not self.model_allowed(request.gpu_models)[node]:
            msg = f"node {self.names[node]} has a GPU model the request does not allow"
            raise ValueError(msg)
        self.cpu_free[node] -= request.cpu_milli
        self.memory_free[node] -= request.memory_mib
        for gpu in placement.gpus:
            self.gpu_free[node, gpu] -= request.gpu_milli
        if request.num_gpu:
            self.pod_shapes[node, 0 if request.is_fractional else request.num_gpu] += 1
        self.version[node] += 1
