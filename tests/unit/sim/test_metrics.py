"""Metrics of a run, checked by hand on a small built ``RunResult``."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace

import numpy as np
import pytest

from gpufleet.scheduling.core import NOT_RUNNING, Context, Int, Policy
from gpufleet.sim.metrics import (
    contention,
    finish_time_fairness,
    mean_utilisation,
    summarise,
)
from gpufleet.sim.rounds_sim import RunResult, Workload, simulate

NAN = math.nan
CAPACITY = (2, 2)


def workload() -> Workload:
    """Three jobs on two GPU types; job 2 never runs."""
    return Workload(
        job_id=np.arange(3),
        gpus=np.array([1, 2, 1]),
        throughput=np.array([[2.0, 1.0], [4.0, 2.0], [1.0, 1.0]]),
        total_steps=np.array([7200.0, 7200.0, 3600.0]),
        arrival_s=np.array([0.0, 3600.0, 7200.0]),
        project=np.array([0, 1, 0]),
        projects=("a", "b"),
        deadline_s=np.array([10_000.0, 5_000.0, 20_000.0]),
    )


def result(**overrides: object) -> RunResult:
    values: dict[str, object] = {
        "jct_s": np.array([3600.0, 7200.0, NAN]),
        "first_start_s": np.array([0.0, 5400.0, NAN]),
        "completion_s": np.array([3600.0, 10_800.0, NAN]),
        "preemptions": np.array([0, 2, 0]),
        "rounds": 4,
        "end_s": 14_400.0,
        "wall_s": 0.1,
        "busy_gpu_s": np.array([7200.0, 3600.0]),
        "utilisation": [(0.0, 0.25), (5400.0, 0.5), (7200.0, 0.5)],
    }
    values.update(overrides)
    return RunResult(**values)  # type: ignore[arg-type]


def test_job_figures_skip_unfinished_jobs_and_count_them() -> None:
    m = summarise(workload(), result(), capacity=CAPACITY, round_s=3600.0)
    assert (m.jobs, m.completed, m.unfinished, m.never_started) == (3, 2, 1, 1)
    assert m.avg_jct_h == pytest.approx(1.5)
    assert m.p50_jct_h == pytest.approx(1.5)
    assert m.p99_jct_h == pytest.approx((3600 + 0.99 * 3600) / 3600)  # linear interpolation
    assert m.avg_queueing_h == pytest.approx(0.25)  # (0 + 1800) / 2, over the started jobs
    assert m.p99_queueing_h == pytest.approx(0.99 * 1800 / 3600)
    assert math.isnan(m.makespan_h)  # a measured job is unfinished
    assert (m.preemptions, m.preemptions_per_job) == (2, pytest.approx(2 / 3))


def test_measure_limits_the_job_figures() -> None:
    m = summarise(workload(), result(), measure=[0, 1], capacity=CAPACITY)
    assert (m.jobs, m.completed, m.unfinished) == (2, 2, 0)
    assert m.makespan_h == pytest.approx(3.0)  # 10,800 s - 0 s
    assert m.deadlines == 2


def test_utilisation_is_time_weighted_with_idle_time_at_zero() -> None:
    m = summarise(workload(), result(), capacity=CAPACITY, round_s=3600.0)
    # 0.25 x 3600 (capped at a round) + 0.5 x 1800 + 0.5 x 3600 (capped), over 14,400 s
    assert m.utilisation == pytest.approx((900 + 900 + 1800) / 14_400)
    assert m.busy_share == pytest.approx(10_800 / (4 * 14_400))
    assert m.utilisation_series == ((0.0, 0.25), (5400.0, 0.5), (7200.0, 0.5))
    assert mean_utilisation([], start_s=0.0, end_s=10.0, round_s=1.0) == 0.0


def test_contention_is_the_time_average_of_jobs_in_the_system() -> None:
    w, r = workload(), result()
    n = contention(w.arrival_s, r.completion_s, r.end_s)
    # job 0 alone on [0, 3600]; job 1: 1 job on [3600, 7200], 2 on [7200, 10800]
    assert n[:2].tolist() == [1.0, 1.5]
    assert math.isnan(n[2])


def test_finish_time_fairness_against_an_equal_share() -> None:
    rho = finish_time_fairness(workload(), result(), CAPACITY)
    # job 0: N=1, g=1: 2 GPUs of each type -> fractions 2, 2 scaled to 1/2, 1/2; rate
    # 0.5 x 2 + 0.5 x 1 = 1.5; alone 7200 / 1.5 = 4800 s; rho = 3600 / 4800.
    # job 1: N=1.5, g=2: fractions 2/3, 2/3 scaled to 1/2; rate 3; alone 2400; rho 7200/2400.
    assert rho[:2].tolist() == pytest.approx([0.75, 3.0])
    assert math.isnan(rho[2])
    m = summarise(workload(), result(), capacity=CAPACITY)
    assert (m.ftf_rho_mean, m.ftf_rho_max) == (pytest.approx(1.875), pytest.approx(3.0))


def test_a_crowded_share_is_a_fraction_of_one_gang() -> None:
    crowd = Workload(
        job_id=np.arange(4),
        gpus=np.ones(4, dtype=np.int64),
        throughput=np.full((4, 2), 2.0),
        total_steps=np.full(4, 100.0),
        arrival_s=np.zeros(4),
    )
    done = np.full(4, 100.0)
    run = result(jct_s=done, first_start_s=np.zeros(4), completion_s=done, preemptions=np.zeros(4))
    # N=4 on 1 + 1 GPUs: a quarter of each, 0.5 of the time in all; rate 1; alone 100 s
    assert finish_time_fairness(crowd, run, (1, 1)).tolist() == [1.0] * 4


def test_deadlines() -> None:
    m = summarise(workload(), result(), capacity=CAPACITY)
    # job 0 on time; job 1 done at 10,800 > 5,000; job 2 unfinished, deadline after the end
    assert (m.deadlines, m.deadline_misses, m.deadline_unknown) == (3, 1, 1)
    overdue = replace(workload(), deadline_s=np.array([NAN, NAN, 12_000.0]))
    late = summarise(overdue, result(), capacity=CAPACITY)
    assert (late.deadlines, late.deadline_misses, late.deadline_unknown) == (1, 1, 0)


def test_project_shares_against_quota() -> None:
    m = summarise(
        workload(),
        result(),
        capacity=CAPACITY,
        quota={"a": [1, 0]},
        gpu_s=np.array([3600.0, 7200.0, 0.0]),
    )
    a, b = m.projects
    assert (a.project, a.gpu_h, a.share, a.quota_share) == ("a", 1.0, pytest.approx(1 / 3), 0.25)
    assert (b.project, b.gpu_h, b.share, b.quota_share) == ("b", 2.0, pytest.approx(2 / 3), 0.0)
    assert summarise(workload(), result(), capacity=CAPACITY).projects == ()
    no_quota = summarise(workload(), result(), capacity=CAPACITY, gpu_s=np.ones(3))
    assert math.isnan(no_quota.projects[0].quota_share)


def test_a_result_carrying_per_job_gpu_time_is_read() -> None:
    @dataclass
    class WithGpuTime(RunResult):
        attained_gpu_s: np.ndarray | None = None

    base = result()
    run = WithGpuTime(**{n: getattr(base, n) for n in RunResult.__slots__})
    run.attained_gpu_s = np.array([1.0, 3.0, 0.0])
    assert [p.share for p in summarise(workload(), run, capacity=CAPACITY).projects] == [0.25, 0.75]


def test_nothing_completed_gives_nan_not_warnings() -> None:
    nothing = np.full(3, NAN)
    run = result(jct_s=nothing, first_start_s=nothing, completion_s=nothing, utilisation=[])
    m = summarise(workload(), run, capacity=CAPACITY)
    assert m.completed == 0
    assert all(math.isnan(v) for v in (m.avg_jct_h, m.p99_jct_h, m.avg_queueing_h, m.ftf_rho_max))
    assert m.utilisation == 0.0


def test_as_dict_is_plain_json() -> None:
    m = summarise(workload(), result(), capacity=CAPACITY, gpu_s=np.ones(3))
    data = json.loads(json.dumps(m.as_dict(), allow_nan=False))
    assert data["makespan_h"] is None
    assert data["completed"] == 2
    assert data["projects"][0]["project"] == "a"
    assert data["utilisation_series"][1] == [5400.0, 0.5]


class FirstFit(Policy):
    """Jobs in order on the first type with room (a test double, not a real policy)."""

    def assign(self, context: Context) -> Int:
        left = context.capacity.copy()
        out = np.full(context.jobs, NOT_RUNNING, dtype=np.int64)
        for i in range(context.jobs):
            for w in range(left.size):
                if context.throughput[i, w] > 0 and left[w] >= context.gpus[i]:
                    out[i], left[w] = w, left[w] - context.gpus[i]
                    break
        return out


def test_summary_of_a_simulated_run() -> None:
    two = Workload(
        job_id=np.arange(2),
        gpus=np.ones(2, dtype=np.int64),
        throughput=np.ones((2, 1)),
        total_steps=np.array([720.0, 360.0]),
        arrival_s=np.zeros(2),
    )
    run = simulate(two, FirstFit(), gpu_types=("v100",), capacity=(1,), round_s=360.0)
    m = summarise(two, run, capacity=(1,), round_s=360.0)
    # one GPU: job 0 runs two rounds, then job 1 one round
    assert run.jct_s.tolist() == [720.0, 1080.0]
    assert (m.avg_jct_h, m.makespan_h) == (pytest.approx(0.25), pytest.approx(0.3))
    assert m.utilisation == pytest.approx(1.0)
    assert m.busy_share == pytest.approx(1.0)
    # N: job 0 stays with 2 jobs; job 1 with 2 for 720 s, then alone for 360 s
    n_1 = (2 * 720 + 360) / 1080
    assert m.ftf_rho_max == pytest.approx(1080 / (360 * n_1))  # 1.8
