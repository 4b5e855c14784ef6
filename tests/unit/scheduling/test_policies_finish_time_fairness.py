"""``finish-time-fairness``: Themis' rho, and the worst-off job served first, by hand."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gpufleet.scheduling.core import NOT_RUNNING, Context, check_assignment, make_policy
from gpufleet.scheduling.policies.finish_time_fairness import (
    FinishTimeFairness,
    finish_time_ratio,
)
from gpufleet.sim.rounds_sim import Workload, simulate

from factories import make_context, random_context

X = NOT_RUNNING


def context(
    capacity: list[int],
    ran_s: list[list[float]],
    *,
    now: float = 100.0,
    gpus: list[int] | None = None,
    throughput: list[list[float]] | None = None,
    arrival: list[float] | None = None,
    current: list[int] | None = None,
) -> Context:
    """One job per row of ``ran_s`` (seconds run on each type): 1 GPU, 1 step/s everywhere,
    all arrived at 0, waiting — unless told otherwise."""
    n, k = len(ran_s), len(capacity)
    return make_context(
        capacity, n, now=now, gpus=gpus, throughput=throughput, remaining=1000.0,
        arrival=arrival or [0.0] * n, current=current,
        time_on_type=np.array(ran_s, dtype=float).reshape(n, k),
    )  # fmt: skip


def assign(ctx: Context) -> list[int]:
    target = FinishTimeFairness().assign(ctx)
    check_assignment(ctx, target)
    return [int(w) for w in target]


def test_rho_worked_by_hand() -> None:
    # C = 2 + 2 GPUs, N = 2 jobs, now 100, both arrived at 0.
    # job 0: g = 1, T = (2, 1): fair = min(1, 4/2) * (2/4 * 2 + 2/4 * 1) = 1.5;
    #        ran 50 s on type 0 -> done = 100 steps; rho = 100 * 1.5 / 100 = 1.5.
    # job 1: g = 4, T = (1, 1): fair = min(1, 4/8) * 1 = 0.5; ran 100 s on type 1 -> done 100;
    #        rho = 100 * 0.5 / 100 = 0.5.
    ctx = context([2, 2], [[50, 0], [0, 100]], gpus=[1, 4], throughput=[[2, 1], [1, 1]])
    assert finish_time_ratio(ctx).tolist() == [1.5, 0.5]
    # A job that has run nothing has share 0: rho is infinite, even on arrival.
    fresh = context([1], [[0.0]], now=0.0)
    assert finish_time_ratio(fresh).tolist() == [math.inf]


def test_the_worst_off_job_is_served_first() -> None:
    # 1 GPU, N = 2: fair = 0.5 step/s. At 100 job 0 has run 80 s (rho 100 * 0.5 / 80 = 0.625),
    # job 1 20 s (rho 2.5): job 1 takes the GPU from job 0.
    ctx = context([1], [[80.0], [20.0]], current=[0, X])
    assert finish_time_ratio(ctx).tolist() == [0.625, 2.5]
    assert assign(ctx) == [X, 0]


def test_jobs_that_have_not_run_go_first_by_arrival() -> None:
    ctx = context([1], [[10.0], [0.0], [0.0]], arrival=[0.0, 20.0, 10.0])
    assert assign(ctx) == [X, X, 0]


def test_each_job_takes_its_fastest_type_with_room() -> None:
    # Type 0 is fast. Job 0 is worse off and takes it, although job 1 gains more there;
    # job 1 gets the slow type. Ties in speed keep a job on its current type.
    ctx = context([1, 1], [[0, 10], [0, 90]], throughput=[[2, 1], [4, 1]], current=[X, 1])
    assert assign(ctx) == [0, 1]
    tie = context([1, 1], [[0, 10]], throughput=[[1, 1]], current=[1])
    assert assign(tie) == [1]


def test_no_jobs_or_no_gpus() -> None:
    assert assign(context([1], [])) == []
    assert assign(context([0], [[0.0]])) == [X]


def test_simulated_equal_jobs_take_turns() -> None:
    # 1 GPU, rounds of 100 s, two 400-s jobs from 0. rho: both inf -> job 0; then job 1 (inf);
    # then 1 vs 1 (tie -> job 0), 0.75 vs 1.5 -> job 1, ... so they alternate; job 0 ends at
    # 700, job 1 runs alone from 700 and ends at 800 (FIFO would give 400 and 800).
    workload = Workload(
        job_id=np.arange(2, dtype=np.int64),
        gpus=np.ones(2, dtype=np.int64),
        throughput=np.ones((2, 1)),
        total_steps=np.array([400.0, 400.0]),
        arrival_s=np.zeros(2),
    )
    policy = make_policy("finish-time-fairness")
    result = simulate(workload, policy, gpu_types=("g",), capacity=(1,), round_s=100.0)
    assert np.isfinite(result.jct_s).all()
    assert result.completion_s.tolist() == [700.0, 800.0]
    assert result.preemptions.tolist() == [3, 3]


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=150, deadline=None)
def test_any_context_gets_a_valid_assignment_and_nothing_changes_it(seed: int) -> None:
    ctx = random_context(seed)
    target = FinishTimeFairness().assign(ctx)
    check_assignment(ctx, target)
    ctx.current_type = target
    assert (FinishTimeFairness().assign(ctx) == target).all()
