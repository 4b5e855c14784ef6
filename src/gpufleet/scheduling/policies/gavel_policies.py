"""Gavel's allocation policies (Narayanan et al., OSDI'20), realised by ``rounds.py``.

* ``max-min-fairness`` — heterogeneity-agnostic max-min fairness (Gavel's ``max_min_fairness``,
  least attained service across types): Gavel's LP with every throughput set to 1, whose
  symmetric optimum gives each job the same share of each type, in proportion to its capacity::

      x[j, w] = min(1, C / sum_j g_j) * n_w / C      (C = sum_w n_w GPUs, g_j gang size)

  GPU types are visited in a freshly shuffled order every round, as in Gavel.
* ``gavel-mmf`` — heterogeneity-aware max-min fairness (Gavel's ``max_min_fairness_perf``)::

      p_j = sum_w T[j, w] n_w / C                  (throughput on an even share of the cluster)
      maximise t  s.t.  sum_w (T[j, w] / p_j) x[j, w] >= t   for every job j
                        sum_j g_j x[j, w] <= n_w,  sum_w x[j, w] <= 1,  x >= 0

  solved with HiGHS; its optimum is not unique (only the bottleneck jobs are pinned), so a
  second LP keeps ``t`` and maximises the total normalised throughput ``sum (T/p) x`` — every job
  gets what the fairness level leaves free. (Gavel takes whatever interior point ECOS returns.)
* ``fifo`` — heterogeneity-agnostic FIFO: at each reset, jobs in id (arrival) order take a GPU
  type drawn at random among those with room, and keep it; only allocated jobs run.
* ``fifo-perf`` — Gavel's ``fifo_perf``: at each reset, jobs in id order take the fastest type
  with room.

All four use Gavel's mechanism with its 1920-s reset interval by default.
"""

from __future__ import annotations

import random

import highspy
import numpy as np

from gpufleet.scheduling.core import Context, Float, register
from gpufleet.scheduling.policies.rounds import RoundMechanism


@register("max-min-fairness")
class MaxMinFairness(RoundMechanism):
    shuffle_types = True

    def allocation(self, context: Context) -> Float:
        capacity = context.capacity.astype(np.float64)
        total = float(capacity.sum())
        demand = float(context.gpus.sum())
        level = min(1.0, total / demand) if demand else 0.0
        share = level * capacity / total if total else np.zeros_like(capacity)
        runnable = context.throughput > 0
        return np.where(runnable, share[None, :], 0.0)


def max_min_lp(context: Context) -> Float:
    """Gavel's heterogeneity-aware max-min allocation (formulation in the module docstring)."""
    n, k = context.throughput.shape
    if n == 0:
        return np.zeros((0, k))
    capacity = context.capacity.astype(np.float64)
    total = float(capacity.sum())
    even = (context.throughput * capacity[None, :]).sum(axis=1) / total
    scaled = np.where(even[:, None] > 0, context.throughput / np.maximum(even, 1e-12)[:, None], 0)
    t_col = n * k
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)  # noqa: FBT003 - HiGHS takes (name, value)
    h.addVars(
        t_col + 1,
        np.zeros(t_col + 1),
        np.append(np.where(scaled.ravel() > 0, 1.0, 0.0), highspy.kHighsInf),
    )
    rows_lb: list[float] = []
    rows_ub: list[float] = []
    starts: list[int] = []
    index: list[int] = []
    value: list[float] = []

    def row(cols: list[int], coefs: list[float], lb: float, ub: float) -> None:
        starts.append(len(index))
        index.extend(cols)
        value.extend(coefs)
        rows_lb.append(lb)
        rows_ub.append(ub)

    inf = highspy.kHighsInf
    for j in range(n):
        cols = list(range(j * k, j * k + k))
        row([*cols, t_col], [*scaled[j].tolist(), -1.0], 0.0, inf)  # sum (T/p) x - t >= 0
        row(cols, [1.0] * k, -inf, 1.0)
    gangs = context.gpus.astype(np.float64)
    for w in range(k):
        row([j * k + w for j in range(n)], gangs.tolist(), -inf, float(capacity[w]))
    h.addRows(
        len(rows_lb), np.array(rows_lb), np.array(rows_ub), len(index),
        np.array(starts, dtype=np.int32), np.array(index, dtype=np.int32), np.array(value),
    )  # fmt: skip
    cost = np.zeros(t_col + 1)
    cost[t_col] = -1.0
    h.changeColsCost(t_col + 1, np.arange(t_col + 1, dtype=np.int32), cost)
    h.run()
    level = float(h.getSolution().col_value[t_col])
    # Second stage: keep the fairness level, hand out what it leaves free.
    h.changeColBounds(t_col, level * (1 - 1e-7), inf)
    second = np.append(-scaled.ravel(), 0.0)
    h.changeColsCost(t_col + 1, np.arange(t_col + 1, dtype=np.int32), second)
    h.run()
    x = np.array(h.getSolution().col_value[:t_col], dtype=np.float64).reshape(n, k)
    return np.asarray(np.clip(x, 0.0, 1.0), dtype=np.float64)


@register("gavel-mmf")
class GavelMaxMinFairness(RoundMechanism):
    def allocation(self, context: Context) -> Float:
        return max_min_lp(context)


@register("fifo")
class Fifo(RoundMechanism):
    positive_only = True
    shuffle_types = True

    def __init__(self, *, reset_interval_s: float = 1920.0, seed: int = 0) -> None:
        super().__init__(reset_interval_s=reset_interval_s, seed=seed)
        self._placement: dict[int, int] = {}
        self._rng = random.Random(seed)  # noqa: S311 - a simulation's draw, not security

    def allocation(self, context: Context) -> Float:
        active = {int(j): i for i, j in enumerate(context.job_id.tolist())}
        self._placement = {j: w for j, w in self._placement.items() if j in active}
        left = context.capacity.astype(np.int64).copy()
        for j, w in self._placement.items():
            left[w] -= int(context.gpus[active[j]])
        for j, i in active.items():  # ids ascending: arrival order
            if j in self._placement:
                continue
            fits = [
                w
                for w in range(left.size)
                if left[w] >= context.gpus[i] and context.throughput[i, w] > 0
            ]
            if not fits:
                continue
            w = fits[self._rng.randrange(len(fits))]
            self._placement[j] = w
            left[w] -= int(context.gpus[i])
        out = np.zeros(context.throughput.shape)
        for j, w in self._placement.items():
            out[active[j], w] = 1.0
        return out


@register("fifo-perf")
class FifoPerf(RoundMechanism):
    positive_only = True

    def allocation(self, context: Context) -> Float:
        left = context.capacity.astype(np.int64).copy()
        out = np.zeros(context.throughput.shape)
        for i in range(context.jobs):
            rates = np.where(left >= context.gpus[i], context.throughput[i], 0.0)
            w = int(np.argmax(rates))
            if rates[w] > 0:
                out[i, w] = 1.0
                left[w] -= int(context.gpus[i])
        return out
