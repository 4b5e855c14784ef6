"""Spot capacity estimates from availability and preemption traces: how often spot capacity can be
had, how often it is taken away, and what share of the hours it does useful work.

Pure: the inputs are tick arrays and their spacing; no files, no clock. The trace reader is
``gpufleet.sim.traces.spot``.

Estimates from one trace
------------------------
A trace is a sequence of counts ``c[0..T-1]``, ``c[t]`` the instances available (or running) at
tick ``t``, ticks ``g`` seconds apart; ``n`` is the number of nodes the job needs at once. With
``dt = g / 3600`` hours per tick:

* observed hours ``H = T * dt``;
* up at tick ``t``: ``u[t] = c[t] >= n`` (all the nodes wanted are there);
* availability ``A = sum(u) / T``;
* mean node fraction ``F = sum(min(c, n) / n) / T`` (equals ``A`` when ``n = 1``);
* uptime hours ``U = sum(u) * dt = A * H``;
* preemptions ``P = #{t >= 1 : u[t-1] and not u[t]}`` (up-to-down transitions);
* preemption rate ``lambda = P / U`` per hour of uptime (``0`` when ``U = 0``);
* mean uptime between preemptions ``U / P = 1 / lambda`` (``inf`` when ``U > 0`` and ``P = 0``;
  ``0`` when ``U = 0``).

Assumptions:

* The state at a tick holds until the next tick, so each tick stands for ``dt`` hours. A loss
  and recovery between two ticks is not seen: ``lambda`` is a lower bound when outages are
  shorter than a tick.
* Preemptions arrive as a Poisson process at a constant rate while up. Then ``P / U`` is the
  maximum-likelihood rate, and ``U / P`` the mean time to preemption with the last, unfinished
  up spell counted as censored (not as a spell that ended).
* Multi-node: the job needs all ``n`` nodes, so losing any one is a preemption of the whole job;
  node losses while already below ``n`` are not counted again.
* In an availability trace (capacity probed each tick, nothing kept running) a drop from
  available to unavailable is taken as the preemption a running instance would have suffered.

Pooling
-------
Estimates of the same cloud, GPU and node count pool into one, weighted by observed hours:
``H = sum(H_i)``, ``A = sum(A_i H_i) / H``, ``F = sum(F_i H_i) / H``, and for the rate the total
preemptions over the total uptime, ``lambda = sum(lambda_i U_i) / sum(U_i)`` with
``U_i = A_i H_i`` (the pooled Poisson maximum-likelihood rate: each trace's rate counts by its
hours of uptime, the only hours in which it could observe a preemption).

Useful fraction
---------------
Each preemption costs ``r`` hours (restart, checkpoint reload, work redone) out of the uptime
that follows it. Of the hours spot capacity is held, ``lambda * r`` per hour go to restarts, so the
share of a period's hours in which spot capacity does useful work is
``A * max(0, 1 - lambda * r)``: the figure ``CapacityOption.availability`` takes for a spot
option.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class SpotEstimate:
    """Spot availability and preemption rate of one trace, or of several pooled."""

    cloud: str
    gpu: str | None
    """GPU model id from the catalog's table; ``None`` for a CPU-only instance type."""
    instance_type: str | None
    """``None`` when pooled over several instance types."""
    availability: float
    """Fraction of ticks with all ``nodes`` available, ``A``."""
    preemptions_per_hour: float
    """Preemptions per hour of uptime, ``lambda``."""
    observed_hours: float
    traces: int
    """Traces pooled into this estimate."""
    nodes: int = 1
    """Nodes needed at once (gang size)."""
    mean_node_fraction: float | None = None
    """Mean fraction of the ``nodes`` available, ``F``; ``None`` for one node (then ``F = A``)."""

    def __post_init__(self) -> None:
        problems = []
        if not 0 <= self.availability <= 1:
            problems.append(f"availability {self.availability} not in [0, 1]")
        if not (self.preemptions_per_hour >= 0 and math.isfinite(self.preemptions_per_hour)):
            problems.append(f"preemptions_per_hour {self.preemptions_per_hour} must be >= 0")
        if not self.observed_hours > 0 or self.traces < 1 or self.nodes < 1:
            problems.append("observed_hours > 0, traces >= 1 and nodes >= 1 required")
        if self.nodes > 1 and self.mean_node_fraction is None:
            problems.append("mean_node_fraction is required for more than one node")
        if self.mean_node_fraction is not None and not 0 <= self.mean_node_fraction <= 1:
            problems.append(f"mean_node_fraction {self.mean_node_fraction} not in [0, 1]")
        if problems:
            raise ValueError(f"spot estimate {self.cloud}/{self.gpu}: " + "; ".join(problems))

    @property
    def uptime_hours(self) -> float:
        """Hours with all nodes up, ``U = A * H``."""
        return self.availability * self.observed_hours

    @property
    def preemptions(self) -> float:
        """Preemptions observed, ``lambda * U`` (whole for one trace, a sum when pooled)."""
        return self.preemptions_per_hour * self.uptime_hours

    @property
    def mean_uptime_hours(self) -> float:
        """Mean uptime between preemptions, ``U / P``: ``inf`` if none was seen while up."""
        if self.preemptions_per_hour > 0:
            return 1.0 / self.preemptions_per_hour
        return math.inf if self.uptime_hours > 0 else 0.0

    @property
    def node_fraction(self) -> float:
        """``F``, which for one node is the availability itself."""
        return self.availability if self.mean_node_fraction is None else self.mean_node_fraction


def up_ticks(counts: ArrayLike, nodes: int = 1) -> NDArray[np.bool_]:
    """``u[t] = counts[t] >= nodes``, after checking the counts are finite and non-negative."""
    array = np.asarray(counts, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        msg = f"counts must be a non-empty 1-D array, got shape {array.shape}"
        raise ValueError(msg)
    if not np.isfinite(array).all() or (array < 0).any():
        msg = "counts must be finite and >= 0"
        raise ValueError(msg)
    if nodes < 1:
        msg = f"nodes must be >= 1, got {nodes}"
        raise ValueError(msg)
    return array >= nodes


def count_preemptions(up: ArrayLike) -> int:
    """Up-to-down transitions, ``#{t >= 1 : up[t-1] and not up[t]}``."""
    flags = np.asarray(up, dtype=np.bool_)
    return int(np.count_nonzero(flags[:-1] & ~flags[1:]))


def estimate_from_ticks(
    counts: ArrayLike,
    *,
    gap_seconds: float,
    cloud: str,
    gpu: str | None,
    instance_type: str | None,
    nodes: int = 1,
) -> SpotEstimate:
    """The estimate of one trace: ``counts[t]`` instances available at tick ``t``."""
    if not (gap_seconds > 0 and math.isfinite(gap_seconds)):
        msg = f"gap_seconds must be > 0, got {gap_seconds}"
        raise ValueError(msg)
    up = up_ticks(counts, nodes)
    hours_per_tick = gap_seconds / SECONDS_PER_HOUR
    uptime_hours = float(np.count_nonzero(up)) * hours_per_tick
    preemptions = count_preemptions(up)
    fraction = np.minimum(np.asarray(counts, dtype=np.float64), nodes) / nodes
    return SpotEstimate(
        cloud=cloud,
        gpu=gpu,
        instance_type=instance_type,
        availability=float(np.mean(up)),
        preemptions_per_hour=preemptions / uptime_hours if uptime_hours > 0 else 0.0,
        observed_hours=up.size * hours_per_tick,
        traces=1,
        nodes=nodes,
        mean_node_fraction=float(np.mean(fraction)) if nodes > 1 else None,
    )


def pool_estimates(estimates: Iterable[SpotEstimate]) -> SpotEstimate:
    """One estimate from several of the same cloud, GPU and node count (see the module doc)."""
    group = list(estimates)
    if not group:
        msg = "no estimates to pool"
        raise ValueError(msg)
    first = group[0]
    keys = {(e.cloud, e.gpu, e.nodes) for e in group}
    if len(keys) > 1:
        msg = f"can only pool one cloud, GPU and node count; got {sorted(keys, key=str)}"
        raise ValueError(msg)
    hours = np.array([e.observed_hours for e in group])
    uptime = np.array([e.uptime_hours for e in group])
    total_uptime = float(uptime.sum())
    preemptions = float(sum(e.preemptions for e in group))
    types = {e.instance_type for e in group}
    fractions = np.array([e.node_fraction for e in group])
    return SpotEstimate(
        cloud=first.cloud,
        gpu=first.gpu,
        instance_type=types.pop() if len(types) == 1 else None,
        availability=min(1.0, total_uptime / float(hours.sum())),
        preemptions_per_hour=preemptions / total_uptime if total_uptime > 0 else 0.0,
        observed_hours=float(hours.sum()),
        traces=sum(e.traces for e in group),
        nodes=first.nodes,
        mean_node_fraction=(
            min(1.0, float(fractions @ hours / hours.sum())) if first.nodes > 1 else None
        ),
    )


def useful_fraction(estimate: SpotEstimate, restart_overhead_hours: float) -> float:
    """``A * max(0, 1 - lambda * r)``: the share of a period's hours spot capacity does useful
    work when each preemption costs ``r = restart_overhead_hours`` of the uptime after it."""
    if not restart_overhead_hours >= 0:
        msg = f"restart_overhead_hours must be >= 0, got {restart_overhead_hours}"
        raise ValueError(msg)
    lost = estimate.preemptions_per_hour * restart_overhead_hours
    return estimate.availability * max(0.0, 1.0 - lost)
