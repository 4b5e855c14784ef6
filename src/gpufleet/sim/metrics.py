"""Job-scheduling metrics of one simulated run: ``summarise(workload, result, ...) -> Metrics``.

Two scopes. *Job figures* (JCT, queueing delay, makespan, finish-time fairness, preemptions,
deadlines) are over the measured jobs: ``measure`` (row indices, as ``simulate`` takes them),
every job when ``None``. *Cluster figures* (utilisation, per-project GPU time) are over the whole
run, from the first arrival to ``result.end_s``.

Jobs that did not complete (NaN completion) never enter a JCT, makespan or fairness figure; they
are counted in ``unfinished``, and a figure with no job to average is NaN (``None`` in
``as_dict``). Times are reported in hours.

Finish-time fairness (Themis, Mahajan et al., NSDI'20): ``rho_j = JCT_j / T_id_j``, where
``T_id_j`` is the time job j would take alone on an equal ``1/N_j`` share of the cluster:

* ``N_j`` — the number of contending jobs: the time-average, over j's stay ``[arrival_j,
  completion_j]``, of the jobs in the system (arrived, not completed; j included). Counted over
  every job of the run, so ``N_j >= 1``.
* the share — ``C_w / N_j`` GPUs of each type ``w`` (``C`` = ``capacity``). A gang of ``g_j``
  GPUs can then run on type ``w`` a fraction ``f_w = C_w / (N_j g_j)`` of the time; when
  ``sum_w f_w > 1`` the fractions are scaled to sum to 1 (one gang at a time), as Gavel's
  ``IsolatedPolicy`` splits the cluster. Rate ``R_j = sum_w f_w T[j, w]``;
  ``T_id_j = total_steps_j / R_j``.

``rho <= 1``: the job did at least as well as on its fair share. Using one lifetime-average
``N_j`` rather than integrating a varying share is an approximation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from gpufleet.sim.rounds_sim import RunResult, Workload

Float = NDArray[np.float64]
HOUR_S = 3600.0


@dataclass(frozen=True, slots=True)
class ProjectShare:
    project: str
    gpu_h: float
    """GPU-hours the project's jobs ran (every job of the run)."""
    share: float
    """Of all GPU time run."""
    quota_share: float
    """The project's quota GPUs over the cluster's GPUs (NaN: no quota given)."""


@dataclass(frozen=True, slots=True)
class Metrics:
    jobs: int
    """Measured jobs."""
    completed: int
    unfinished: int
    never_started: int
    avg_jct_h: float
    p50_jct_h: float
    p99_jct_h: float
    avg_queueing_h: float
    """First start minus arrival, over measured jobs that started."""
    p99_queueing_h: float
    makespan_h: float
    """Last completion minus first arrival of the measured jobs (NaN if any is unfinished)."""
    utilisation: float
    """Time-weighted mean of ``result.utilisation`` (see ``mean_utilisation``)."""
    busy_share: float
    """GPU-seconds run (``result.busy_gpu_s``) over capacity x the run's span."""
    ftf_rho_mean: float
    ftf_rho_max: float
    preemptions: int
    preemptions_per_job: float
    deadlines: int
    """Measured jobs with a deadline."""
    deadline_misses: int
    """Completed after the deadline, or unfinished with the deadline passed before the end."""
    deadline_unknown: int
    """Unfinished when the run ended, deadline still ahead."""
    projects: tuple[ProjectShare, ...]
    """Empty when per-job GPU time is not available (``summarise(gpu_s=...)``)."""
    utilisation_series: tuple[tuple[float, float], ...]
    """(round start s, share of healthy GPUs busy), for plots."""

    def as_dict(self) -> dict[str, object]:
        """Plain JSON types; NaN becomes ``None``."""
        out: dict[str, object] = {}
        for item in fields(self):
            name, value = item.name, getattr(self, item.name)
            if name == "projects":
                value = [
                    {
                        "project": p.project,
                        "gpu_h": _plain(p.gpu_h),
                        "share": _plain(p.share),
                        "quota_share": _plain(p.quota_share),
                    }
                    for p in value
                ]
            elif name == "utilisation_series":
                value = [[t, u] for t, u in value]
            out[name] = _plain(value) if isinstance(value, float) else value
        return out


def _plain(value: float) -> float | None:
    return None if math.isnan(value) else value


def _mean(values: Float) -> float:
    return float(values.mean()) if values.size else math.nan


def _percentile(values: Float, q: float) -> float:
    return float(np.percentile(values, q)) if values.size else math.nan


def _max(values: Float) -> float:
    return float(values.max()) if values.size else math.nan


def mean_utilisation(
    series: Sequence[tuple[float, float]], *, start_s: float, end_s: float, round_s: float
) -> float:
    """Time-weighted mean of per-round utilisation over ``[start_s, end_s]``.

    Each sample holds from its round's start until the next sample, at most ``round_s`` (a
    round never lasts longer); time no sample covers — the cluster idle, waiting for an
    arrival — counts as 0. ``RunResult`` records round starts only, so a round that ended early
    just before an idle gap is counted as lasting until the gap's end or ``round_s``.
    """
    span = end_s - start_s
    if span <= 0 or not series:
        return math.nan if span <= 0 else 0.0
    starts = np.array([t for t, _ in series], dtype=np.float64)
    shares = np.array([u for _, u in series], dtype=np.float64)
    ends = np.append(starts[1:], end_s)
    held = np.clip(np.minimum(ends - starts, round_s), 0.0, None)
    return float((shares * held).sum() / span)


def contention(arrival_s: Float, completion_s: Float, end_s: float) -> Float:
    """(N,) ``N_j``: time-average number of jobs in the system over each job's stay
    (``[arrival, completion]``; unfinished jobs stay until ``end_s``, jobs arriving after
    ``end_s`` never enter). NaN for jobs that did not complete."""
    out = np.full(arrival_s.size, np.nan)
    arrived = arrival_s <= end_s
    if not arrived.any():
        return out
    leave = np.where(np.isnan(completion_s), end_s, completion_s)
    times = np.concatenate([arrival_s[arrived], leave[arrived]])
    steps = np.concatenate([np.ones(int(arrived.sum())), -np.ones(int(arrived.sum()))])
    order = np.argsort(times, kind="stable")
    times, level = times[order], np.cumsum(steps[order])
    area = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(times))])

    def integral(x: Float) -> Float:
        k = np.searchsorted(times, x, side="right") - 1
        return np.asarray(area[k] + level[k] * (x - times[k]), dtype=np.float64)

    done = ~np.isnan(completion_s)
    a, c = arrival_s[done], completion_s[done]
    stay = c - a
    with np.errstate(invalid="ignore", divide="ignore"):
        average = (integral(c) - integral(a)) / stay
    at_arrival = level[np.searchsorted(times, a, side="right") - 1]
    out[done] = np.maximum(np.where(stay > 0, average, at_arrival), 1.0)
    return out


def finish_time_fairness(workload: Workload, result: RunResult, capacity: Sequence[int]) -> Float:
    """(N,) Themis' ``rho`` per job (module docstring); NaN for jobs that did not complete or
    have no throughput on any type."""
    n_j = contention(workload.arrival_s, result.completion_s, result.end_s)
    cap = np.asarray(capacity, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = cap[None, :] / (n_j[:, None] * workload.gpus[:, None])
        total = fraction.sum(axis=1, keepdims=True)
        fraction = np.where(total > 1.0, fraction / total, fraction)
        rate = (fraction * workload.throughput).sum(axis=1)
        alone_s = np.where(rate > 0, workload.total_steps / rate, np.nan)
        return np.asarray(result.jct_s / alone_s, dtype=np.float64)


def project_shares(
    workload: Workload,
    gpu_s: Float,
    capacity: Sequence[int],
    quota: Mapping[str, Sequence[int]] | None = None,
) -> tuple[ProjectShare, ...]:
    """GPU time per project (from per-job GPU-seconds ``gpu_s``) against its quota."""
    project = np.asarray(workload.column("project"), dtype=np.int64)
    per_project = np.bincount(project, weights=gpu_s, minlength=len(workload.projects))
    total = float(per_project.sum())
    cluster = float(sum(capacity))
    out = []
    for k, name in enumerate(workload.projects):
        quota_gpus = float(sum(quota.get(name, ()))) if quota is not None else math.nan
        out.append(
            ProjectShare(
                project=name,
                gpu_h=float(per_project[k]) / HOUR_S,
                share=float(per_project[k]) / total if total > 0 else math.nan,
                quota_share=quota_gpus / cluster if cluster > 0 else math.nan,
            )
        )
    return tuple(out)


def summarise(
    workload: Workload,
    result: RunResult,
    *,
    measure: Sequence[int] | None = None,
    capacity: Sequence[int],
    quota: Mapping[str, Sequence[int]] | None = None,
    round_s: float = 360.0,
    gpu_s: Float | None = None,
) -> Metrics:
    """The metrics of one run (module docstring). ``capacity``: the cluster's GPUs per type, in
    the throughput columns' order. ``quota``: per project, guaranteed GPUs of each type (as
    ``simulate`` takes it; a project without one counts as 0). ``gpu_s``: per-job GPU-seconds
    run, for project shares (default: the result's ``attained_gpu_s``)."""
    rows = np.arange(len(workload)) if measure is None else np.asarray(measure, dtype=np.int64)
    jct = result.jct_s[rows]
    done = ~np.isnan(jct)
    started = ~np.isnan(result.first_start_s[rows])
    queueing = (result.first_start_s[rows] - workload.arrival_s[rows])[started]
    completion = result.completion_s[rows]
    makespan = (
        float(completion.max() - workload.arrival_s[rows].min())
        if rows.size and done.all()
        else math.nan
    )
    start_s = float(workload.arrival_s.min()) if len(workload) else 0.0
    span = result.end_s - start_s
    busy = float(result.busy_gpu_s.sum()) / (float(sum(capacity)) * span) if span > 0 else math.nan
    rho = finish_time_fairness(workload, result, capacity)[rows]
    rho = rho[~np.isnan(rho)]
    deadline = np.asarray(workload.column("deadline_s"), dtype=np.float64)[rows]
    has = ~np.isnan(deadline)
    late = has & done & (completion > deadline)
    overdue = has & ~done & (deadline <= result.end_s)
    unknown = has & ~done & (deadline > result.end_s)
    preempted = result.preemptions[rows]
    per_job = gpu_s if gpu_s is not None else result.attained_gpu_s
    projects = (
        project_shares(workload, np.asarray(per_job, dtype=np.float64), capacity, quota)
        if np.size(per_job) == len(workload)
        else ()
    )
    return Metrics(
        jobs=int(rows.size),
        completed=int(done.sum()),
        unfinished=int((~done).sum()),
        never_started=int((~started).sum()),
        avg_jct_h=_mean(jct[done]) / HOUR_S,
        p50_jct_h=_percentile(jct[done], 50) / HOUR_S,
        p99_jct_h=_percentile(jct[done], 99) / HOUR_S,
        avg_queueing_h=_mean(queueing) / HOUR_S,
        p99_queueing_h=_percentile(queueing, 99) / HOUR_S,
        makespan_h=makespan / HOUR_S,
        utilisation=mean_utilisation(
            result.utilisation, start_s=start_s, end_s=result.end_s, round_s=round_s
        ),
        busy_share=busy,
        ftf_rho_mean=_mean(rho),
        ftf_rho_max=_max(rho),
        preemptions=int(preempted.sum()),
        preemptions_per_job=_mean(preempted.astype(np.float64)),
        deadlines=int(has.sum()),
        deadline_misses=int((late | overdue).sum()),
        deadline_unknown=int(unknown.sum()),
        projects=projects,
        utilisation_series=tuple((float(t), float(u)) for t, u in result.utilisation),
    )
