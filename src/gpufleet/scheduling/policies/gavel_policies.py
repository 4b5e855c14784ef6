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

  solved with HiGHS; its optimum is not unique (only the bottleneck jobs are pinned), so the
  objective is ``big * t + sum (T/p) x`` with ``big`` larger than any throughput sum: the
  fairness level first, then what it leaves free goes to whoever can use it. (Gavel takes
  whatever interior point ECOS returns.)
* ``gavel-min-jct`` — Gavel-style minimum average JCT: the LP over the job x GPU-type
  throughput matrix that maximises the jobs' total rate of finishing their remaining work,
  ``sum_j sum_w T[j, w] x[j, w] / remaining_steps[j]``, same constraints, realised by the same
  mechanism.
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

from gpufleet.highs import new_highs
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


IPM_FROM_JOBS = 512
"""From this many jobs on, HiGHS's interior-point solver beats its simplex on this LP."""


def max_min_lp(context: Context) -> Float:
    """Gavel's heterogeneity-aware max-min allocation (formulation in the module docstring)."""
    capacity = context.capacity.astype(np.float64)
    even = (context.throughput * capacity[None, :]).sum(axis=1) / max(float(capacity.sum()), 1.0)
    scaled = np.where(even[:, None] > 0, context.throughput / np.maximum(even, 1e-12)[:, None], 0.0)
    return allocation_lp(context, scaled, fairness=True)


def min_jct_lp(context: Context) -> Float:
    """The allocation that completes jobs fastest: maximise ``sum_j sum_w T[j, w] x[j, w] /
    remaining_steps[j]`` (each job's rate of finishing its remaining work) under the same
    constraints, with no fairness level."""
    rate = context.throughput / np.maximum(context.remaining_steps, 1e-9)[:, None]
    top = float(rate.max()) if rate.size else 1.0
    return allocation_lp(context, rate / (top if top > 0 else 1.0), fairness=False)


def allocation_lp(context: Context, scaled: Float, *, fairness: bool) -> Float:
    """``max big * t + sum scaled * x`` (``t`` the fairness level, dropped without ``fairness``)
    s.t. ``sum_w scaled x >= t``, ``sum_j g_j x[j, w] <= n_w``, ``sum_w x <= 1``, ``x >= 0``."""
    n, k = context.throughput.shape
    if n == 0:
        return np.zeros((0, k))
    capacity = context.capacity.astype(np.float64)
    # A job that fits nowhere now (no throughput, or its gang larger than every type's GPUs)
    # gets nothing and stays out of the fairness rows: it would pin the level t at 0.
    usable = (scaled > 0) & (context.gpus[:, None] <= capacity[None, :])
    scaled = np.where(usable, scaled, 0.0)
    stranded = ~usable.any(axis=1)
    t_col = n * k
    inf = highspy.kHighsInf
    h = new_highs()
    if n >= IPM_FROM_JOBS:  # interior point: 0.07 s at 2,048 jobs where simplex takes 0.5 s
        h.setOptionValue("solver", "ipm")
    else:  # primal simplex: half the time of the default (dual) on the simulator's ~100 jobs
        h.setOptionValue("simplex_strategy", 4)
    upper = np.append(np.where(scaled.ravel() > 0, 1.0, 0.0), inf)
    h.addVars(t_col + 1, np.zeros(t_col + 1), upper)
    x_cols = np.arange(t_col, dtype=np.int32).reshape(n, k)
    # Rows 0..n-1: sum_w (T/p) x - t >= 0; rows n..2n-1: sum_w x <= 1 (k + 1 and k entries).
    fair_index = np.hstack([x_cols, np.full((n, 1), t_col, dtype=np.int32)]).ravel()
    fair_value = np.hstack([scaled, np.where(stranded, 0.0, -1.0)[:, None]]).ravel()
    job_index = x_cols.ravel()
    job_value = np.ones(t_col)
    type_index = x_cols.T.ravel()  # row w: every job's column w
    type_value = np.tile(context.gpus.astype(np.float64), k)
    index = np.concatenate([fair_index, job_index, type_index]).astype(np.int32)
    value = np.concatenate([fair_value, job_value, type_value])
    lengths = np.concatenate([np.full(n, k + 1), np.full(n, k), np.full(k, n)])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int32)
    lower = np.concatenate([np.zeros(n), np.full(n, -inf), np.full(k, -inf)])
    upper_rows = np.concatenate([np.full(n, inf), np.ones(n), capacity])
    h.addRows(2 * n + k, lower, upper_rows, index.size, starts, index, value)
    # One solve, two priorities: the fairness level t first (weight big enough that no
    # throughput gain elsewhere can pay for lowering it), then the total normalised throughput
    # -- what the level leaves free goes to whoever can use it.
    big = float(scaled.sum()) * 10.0 + 1.0 if fairness else 0.0
    cost = np.append(-scaled.ravel(), -big)
    h.changeColsCost(t_col + 1, np.arange(t_col + 1, dtype=np.int32), cost)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        msg = f"allocation LP ended with status {h.modelStatusToString(h.getModelStatus())}"
        raise RuntimeError(msg)
    x = np.array(h.getSolution().col_value[:t_col], dtype=np.float64).reshape(n, k)
    return np.asarray(np.clip(x, 0.0, 1.0), dtype=np.float64)


@register("gavel-mmf")
class GavelMaxMinFairness(RoundMechanism):
    def allocation(self, context: Context) -> Float:
        return max_min_lp(context)


@register("gavel-min-jct")
class GavelMinJct(RoundMechanism):
    """Gavel-style minimum average JCT: ``min_jct_lp``'s allocation through Gavel's round
    mechanism (recomputed when the job set changes, at most every ``reset_interval_s``)."""

    def allocation(self, context: Context) -> Float:
        return min_jct_lp(context)


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
        for j, i in sorted(active.items()):  # job-id (arrival) order
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
        for i in np.argsort(context.job_id, kind="stable").tolist():  # job-id (arrival) order
            rates = np.where(left >= context.gpus[i], context.throughput[i], 0.0)
            w = int(np.argmax(rates))
            if rates[w] > 0:
                out[i, w] = 1.0
                left[w] -= int(context.gpus[i])
        return out
