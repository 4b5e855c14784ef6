"""The target workload and node fragmentation, as defined by FGD (Weng et al., USENIX ATC'23).

**Target workload** (the authors' "typical pods"): group the workload's requests by
(CPU milli, per-GPU milli, GPU count, allowed models) — CPU-only requests included, memory not —
sort the groups by size (larger first; on equal size the larger key first), take groups while the
cumulative share is below ``coverage`` (so the group crossing it is included), and renormalise
their popularity ``p_t`` to sum to 1.

**Node fragmentation** ``F(n)``, in milli-GPUs, is the expected amount of node ``n``'s free GPU
capacity that a request drawn from the target workload could *not* use::

    F(n) = sum_t p_t * f_t(n)
    f_t(n) = free(n)                        if t asks for no GPU (CPU-only)
           = free(n)                        if n's model is not allowed for t
           = sum_{j: free_j < g_t} free_j   if #{j: free_j >= g_t} >= k_t and cpu(n) >= c_t
           = free(n)                        otherwise (t does not fit at all)

where ``free_j`` is the free milli of GPU ``j`` and ``free(n)`` its sum. Memory is ignored.
Functions here are vectorised over nodes (and candidate GPUs) with NumPy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import NDArray

from gpufleet.scheduling.placement.request import PlacementRequest

Float = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TargetWorkload:
    cpu_milli: NDArray[np.int64]
    gpu_milli: NDArray[np.int64]
    """Per-GPU milli of each type (0 for CPU-only types)."""
    num_gpu: NDArray[np.int64]
    gpu_models: tuple[frozenset[str] | None, ...]
    popularity: Float

    @property
    def size(self) -> int:
        return len(self.popularity)

    @property
    def cpu_per_gpu_milli(self) -> float:
        """CPU milli per GPU milli that the workload's GPU requests ask for, popularity-weighted:
        ``sum_t p_t c_t / sum_t p_t k_t g_t`` over types with ``g_t > 0`` (0 if none)."""
        gpu = self.gpu_milli > 0
        demand = float((self.popularity[gpu] * self.num_gpu[gpu] * self.gpu_milli[gpu]).sum())
        cpu = float((self.popularity[gpu] * self.cpu_milli[gpu]).sum())
        return cpu / demand if demand else 0.0

    @classmethod
    def from_requests(
        cls, requests: Iterable[PlacementRequest], coverage: float = 0.95
    ) -> TargetWorkload:
        counts = Counter(r.shape for r in requests)
        if not counts:
            msg = "a target workload needs at least one request"
            raise ValueError(msg)
        total = sum(counts.values())

        def order(
            item: tuple[tuple[int, int, int, frozenset[str] | None], int],
        ) -> tuple[object, ...]:
            (cpu, num, milli, models), count = item
            spec = "|".join(sorted(models)) if models else ""
            return (count, cpu, milli, num, spec)

        chosen, share = [], 0.0
        for shape, count in sorted(counts.items(), key=order, reverse=True):
            if share >= coverage:
                break
            chosen.append((shape, count))
            share += count / total
        weights = np.array([c for _, c in chosen], dtype=np.float64)
        return cls(
            cpu_milli=np.array([s[0] for s, _ in chosen], dtype=np.int64),
            num_gpu=np.array([s[1] for s, _ in chosen], dtype=np.int64),
            gpu_milli=np.array([s[2] for s, _ in chosen], dtype=np.int64),
            gpu_models=tuple(s[3] for s, _ in chosen),
            popularity=weights / weights.sum(),
        )

    def allowed(self, models: tuple[str, ...], node_model: NDArray[np.int64]) -> NDArray[np.bool_]:
        """(types, nodes): may type t use the GPU model of each node."""
        table = np.array(
            [[m is None or name in m for name in models] for m in self.gpu_models], dtype=np.bool_
        )
        return table[:, node_model]


def fragmentation(
    target: TargetWorkload,
    gpu_free: NDArray[np.int64],
    cpu_free: NDArray[np.int64],
    allowed: NDArray[np.bool_],
) -> Float:
    """``F`` of each node: ``gpu_free`` (nodes, gpus; -1 = absent), ``allowed`` (types, nodes).

    The readable reference; the compiled ``kernels.node_fragmentation`` must agree with it.
    """
    usable = np.maximum(gpu_free, 0)
    total = usable.sum(axis=-1)
    fits = gpu_free[None] >= target.gpu_milli[:, None, None]  # (types, nodes, gpus)
    small = np.where(fits, 0, usable[None]).sum(axis=-1)  # free milli too small for the type
    ok = (
        allowed
        & (fits.sum(axis=-1) >= target.num_gpu[:, None])
        & (cpu_free[None] >= target.cpu_milli[:, None])
        & (target.gpu_milli[:, None] > 0)
    )
    return cast("Float", target.popularity @ np.where(ok, small, total[None]))
