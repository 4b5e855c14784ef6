"""``fair-share``: weighted dominant resource fairness across projects (DRF; Ghodsi et al.,
NSDI'11) over guaranteed quotas that idle projects lend and take back (Kueue's ClusterQueues in
a cohort, with fair sharing).

Resources r: the GPUs of each type w (``C_w = capacity[w]``), plus CPU and memory where the
cluster models them (``cpu_capacity_milli``, ``memory_capacity_mib`` > 0; each job holds
``cpu_milli``, ``memory_mib``, and a job must fit them too). A project p's usage ``u_p[r]`` sums
its granted jobs (a job's GPUs count on the type it is granted); its weighted dominant share is::

    s_p = max_r u_p[r] / C_r / weight_p          (weight_p = context.weight[p], default 1)

Each project's jobs queue FIFO (``arrival_s``, then id). Every round the whole assignment is
recomputed from nothing, in two passes; each is DRF's progressive filling — repeatedly take the
project with the smallest ``s_p`` (ties: the one whose next job arrived first) and grant its next
job on the first of its types with room (its current type first, then fastest first,
``T[j, w] > 0`` only):

1. **Guaranteed**: a grant must also fit the project's quota, ``u_p[w] + g_j <= quota_p[w]``
   (``context.quota[p]``, zero if absent).
2. **Borrowing**: the jobs still waiting, from whatever capacity pass 1 left — quota that its
   owners do not use now, and capacity no quota covers.

A job that does not fit is passed over and its project's later jobs go on (Kueue's
BestEffortFIFO). Since pass 1 runs first, a project always gets up to its quota when it has the
work — as far as its gangs fit the quota, CPU and memory allow, and the quotas fit the cluster
(if they do not, the smallest shares go first).

**When a running job is preempted** — exactly when it is not granted again at a round boundary:

* reclaim: it runs on borrowed GPUs (beyond its project's quota) and their owner's jobs now take
  them back in pass 1;
* fair share: it borrows, and pass 2 now serves projects with a lower weighted dominant share
  first (new work arrived for them, or their jobs finished and lowered their share);
* FIFO in its project: an earlier job of the same project that did not fit before now does, and
  takes its place (within quota or in pass 2);
* the cluster shrank (fewer healthy GPUs) or the quotas changed.

So a job running within its project's quota is preempted only by the last two (or where the
quotas add up to more than the cluster). Nothing is preempted while the job set and capacity
stay the same: the passes are deterministic and each running job tries its current type first,
so they reproduce the last round's grants.
"""

from __future__ import annotations

import numpy as np

from gpufleet.scheduling.core import Context, Float, Int, Policy, register
from gpufleet.scheduling.placement._jit import njit


@register("fair-share")
class FairShare(Policy):
    def assign(self, context: Context) -> Int:
        if context.jobs == 0:
            return np.zeros(0, dtype=np.int64)
        n, k = context.throughput.shape
        projects = len(context.projects)
        weight = np.array([context.weight.get(p, 1.0) for p in context.projects], dtype=float)
        if (weight <= 0).any():
            msg = f"fair-share weights must be positive: {dict(context.weight)}"
            raise ValueError(msg)
        quota = np.zeros((projects, k), dtype=np.int64)
        for p, name in enumerate(context.projects):
            if name in context.quota:
                quota[p] = np.asarray(context.quota[name], dtype=np.int64)
        fifo = np.lexsort((context.job_id, context.arrival_s))
        rank = np.empty(n, dtype=np.int64)
        rank[fifo] = np.arange(n)
        queue = np.lexsort((rank, context.project))
        starts = np.searchsorted(context.project[queue], np.arange(projects + 1))
        return drf_fill(
            queue.astype(np.int64), starts.astype(np.int64), rank,
            context.gpus.astype(np.int64), context.throughput, preference(context),
            context.cpu_milli.astype(np.float64), context.memory_mib.astype(np.float64),
            context.capacity.astype(np.int64), float(context.cpu_capacity_milli),
            float(context.memory_capacity_mib), quota, weight,
        )  # fmt: skip


def preference(context: Context) -> Int:
    """(n, K) each job's GPU types in the order it tries them: its current type, then fastest
    first (ties in ``gpu_types`` order)."""
    key = -context.throughput
    running = np.flatnonzero(context.running)
    key[running, context.current_type[running]] = -np.inf
    return np.argsort(key, axis=1, kind="stable").astype(np.int64)


@njit
def drf_fill(  # noqa: PLR0917 - a compiled kernel takes positional arrays
    queue: Int,
    starts: Int,
    rank: Int,
    gpus: Int,
    throughput: Float,
    preference: Int,
    cpu: Float,
    memory: Float,
    capacity: Int,
    cpu_capacity: float,
    memory_capacity: float,
    quota: Int,
    weight: Float,
) -> Int:  # pragma: no cover - compiled
    """The two progressive-filling passes of the module docstring. ``queue`` holds the jobs by
    project, FIFO within each, project p's at ``queue[starts[p]:starts[p + 1]]``; ``rank`` is
    each job's place in global arrival order (the tie-break between projects)."""
    n, k = throughput.shape
    projects = weight.size
    assigned = np.full(n, -1, dtype=np.int64)
    left = capacity.copy()
    # Per project: GPUs of each type, then CPU and memory; the last row is what is left.
    used = np.zeros((projects + 1, k + 2))
    used[projects, k] = cpu_capacity
    used[projects, k + 1] = memory_capacity
    share = np.zeros(projects)
    for guaranteed in (True, False):
        head = starts[:-1].copy()
        while left.sum() > 0:
            p = _next_project(queue, starts, rank, assigned, head, share)
            if p < 0:
                break
            j = queue[head[p]]
            head[p] += 1
            w = _grant(j, p, guaranteed, gpus, throughput, preference, cpu, memory, left,
                       cpu_capacity, memory_capacity, quota, used)  # fmt: skip
            if w >= 0:
                assigned[j] = w
                share[p] = _dominant(used[p], capacity, cpu_capacity, memory_capacity) / weight[p]
    return assigned


@njit
def _next_project(  # noqa: PLR0917 - compiled
    queue: Int, starts: Int, rank: Int, assigned: Int, head: Int, share: Float
) -> int:  # pragma: no cover - compiled
    """The project with the smallest share that has a job waiting (ties: the earliest job)."""
    best = -1
    for p in range(share.size):
        while head[p] < starts[p + 1] and assigned[queue[head[p]]] >= 0:
            head[p] += 1
        if head[p] == starts[p + 1]:
            continue
        lower = best < 0 or share[p] < share[best] - 1e-12
        tied = best >= 0 and abs(share[p] - share[best]) <= 1e-12
        if lower or (tied and rank[queue[head[p]]] < rank[queue[head[best]]]):
            best = p
    return best


@njit
def _grant(  # noqa: PLR0917 - compiled
    j: int,
    p: int,
    guaranteed: bool,
    gpus: Int,
    throughput: Float,
    preference: Int,
    cpu: Float,
    memory: Float,
    left: Int,
    cpu_capacity: float,
    memory_capacity: float,
    quota: Int,
    used: Float,
) -> int:  # pragma: no cover - compiled
    """Grant job j (of project p) its first preferred type that fits, updating ``left`` and
    ``used``; -1 if none does."""
    k = left.size
    free = used.shape[0] - 1
    if cpu_capacity > 0 and cpu[j] > used[free, k] + 1e-9:
        return -1
    if memory_capacity > 0 and memory[j] > used[free, k + 1] + 1e-9:
        return -1
    for e in range(k):
        w = preference[j, e]
        if throughput[j, w] <= 0.0 or gpus[j] > left[w]:
            continue
        if guaranteed and used[p, w] + gpus[j] > quota[p, w]:
            continue
        left[w] -= gpus[j]
        used[p, w] += gpus[j]
        used[p, k] += cpu[j]
        used[p, k + 1] += memory[j]
        used[free, k] -= cpu[j]
        used[free, k + 1] -= memory[j]
        return int(w)
    return -1


@njit
def _dominant(
    usage: Float, capacity: Int, cpu_capacity: float, memory_capacity: float
) -> float:  # pragma: no cover - compiled
    """max_r usage[r] / capacity[r] over the modelled resources."""
    k = capacity.size
    dominant = 0.0
    for w in range(k):
        if capacity[w] > 0:
            dominant = max(dominant, usage[w] / capacity[w])
    if cpu_capacity > 0:
        dominant = max(dominant, usage[k] / cpu_capacity)
    if memory_capacity > 0:
        dominant = max(dominant, usage[k + 1] / memory_capacity)
    return dominant
