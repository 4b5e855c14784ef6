"""Compiled per-node kernels for fragmentation-aware scoring (FGD and its descendants).

Each kernel loops over a few nodes, their GPUs and the target workload's types — small loops that
NumPy would run as dozens of tiny array operations per placement. They compute exactly the
quantities defined in ``target.py`` (whose NumPy ``fragmentation`` is the reference; a property
test checks that both agree).

Arguments describing the target workload: ``tg`` per-GPU milli, ``tk`` GPU count, ``tc`` CPU milli,
``tp`` popularity (all per type), and ``allowed`` (types, nodes).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from gpufleet.scheduling.placement._jit import njit

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
B = NDArray[np.bool_]


@njit
def node_fragmentation(
    free: I64, cpu: int, node: int, allowed: B, tg: I64, tk: I64, tc: I64, tp: F64
) -> float:
    """``F`` of one node: ``free`` its GPUs' free milli (-1 = absent), ``cpu`` its free CPU."""
    total = 0
    for f in free:
        if f > 0:
            total += f
    out = 0.0
    for t in range(tg.size):
        g = tg[t]
        value = float(total)
        if g > 0 and allowed[t, node] and cpu >= tc[t]:
            count = 0
            small = 0
            for f in free:
                if f >= g:
                    count += 1
                elif f > 0:
                    small += f
            if count >= tk[t]:
                value = float(small)
        out += tp[t] * value
    return out


@njit
def sigmoid_score(delta: float) -> int:
    """``floor(100 * sigmoid(delta / 1000))``, FGD's integer score of a fragmentation decrease."""
    return math.floor(100.0 / (1.0 + math.exp(-delta / 1000.0)))


@njit
def fgd_fractional(
    gpu_free: I64,
    cpu_free: I64,
    nodes: I64,
    gpu_milli: int,
    cpu_milli: int,
    allowed: B,
    tg: I64,
    tk: I64,
    tc: I64,
    tp: F64,
) -> tuple[I64, I64]:
    """For a fractional request, per node: FGD's best score over its GPUs and that GPU (first on
    ties; score and GPU -1 if none fits)."""
    n = nodes.size
    scores = np.full(n, -1, dtype=np.int64)
    best_gpu = np.full(n, -1, dtype=np.int64)
    work = np.empty(gpu_free.shape[1], dtype=np.int64)
    for i in range(n):
        node = nodes[i]
        free = gpu_free[node]
        before = node_fragmentation(free, cpu_free[node], node, allowed, tg, tk, tc, tp)
        for j in range(free.size):
            if free[j] < gpu_milli:
                continue
            work[:] = free
            work[j] -= gpu_milli
            after = node_fragmentation(
                work, cpu_free[node] - cpu_milli, node, allowed, tg, tk, tc, tp
            )
            score = sigmoid_score(before - after)
            if score > scores[i]:
                scores[i] = score
                best_gpu[i] = j
    return scores, best_gpu


@njit
def fgd_whole_scores(
    gpu_free: I64,
    cpu_free: I64,
    nodes: I64,
    num_gpu: int,
    cpu_milli: int,
    allowed: B,
    tg: I64,
    tk: I64,
    tc: I64,
    tp: F64,
) -> I64:
    """FGD's score per node when a whole-GPU request takes the node's first ``num_gpu`` fully
    free GPUs (or a CPU-only request, ``num_gpu == 0``, only CPU)."""
    out = np.empty(nodes.size, dtype=np.int64)
    work = np.empty(gpu_free.shape[1], dtype=np.int64)
    for i in range(nodes.size):
        node = nodes[i]
        free = gpu_free[node]
        before = node_fragmentation(free, cpu_free[node], node, allowed, tg, tk, tc, tp)
        work[:] = free
        taken = 0
        for j in range(work.size):
            if taken < num_gpu and work[j] == 1000:
                work[j] = 0
                taken += 1
        after = node_fragmentation(work, cpu_free[node] - cpu_milli, node, allowed, tg, tk, tc, tp)
        out[i] = sigmoid_score(before - after)
    return out


@njit
def fgd_fractional_penalised(
    gpu_free: I64,
    cpu_free: I64,
    nodes: I64,
    gpu_milli: int,
    cpu_milli: int,
    penalty: I64,
    allowed: B,
    tg: I64,
    tk: I64,
    tc: I64,
    tp: F64,
) -> tuple[I64, I64]:
    """As ``fgd_fractional``, with ``penalty[free]`` subtracted from the score of a GPU that has
    ``free`` milli free before the placement (``fgd-pack``'s packing loss). Per node: the best
    key and its GPU (first on ties; GPU -1 and the lowest key if none fits)."""
    n = nodes.size
    keys = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    best_gpu = np.full(n, -1, dtype=np.int64)
    work = np.empty(gpu_free.shape[1], dtype=np.int64)
    for i in range(n):
        node = nodes[i]
        free = gpu_free[node]
        before = node_fragmentation(free, cpu_free[node], node, allowed, tg, tk, tc, tp)
        for j in range(free.size):
            if free[j] < gpu_milli:
                continue
            work[:] = free
            work[j] -= gpu_milli
            after = node_fragmentation(
                work, cpu_free[node] - cpu_milli, node, allowed, tg, tk, tc, tp
            )
            key = sigmoid_score(before - after) - penalty[free[j]]
            if best_gpu[i] < 0 or key > keys[i]:
                keys[i] = key
                best_gpu[i] = j
    return keys, best_gpu
