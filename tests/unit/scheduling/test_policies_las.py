"""``las``: Tiresias' discretised 2D-LAS and its starvation guard, worked out by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpufleet.scheduling.core import NOT_RUNNING, Context, check_assignment, make_policy
from gpufleet.scheduling.policies.las import Las
from gpufleet.sim.rounds_sim import Workload, simulate

from factories import make_context, random_context

X = NOT_RUNNING


def context(
    capacity: list[int],
    attained: list[float],
    *,
    now: float = 0.0,
    gpus: list[int] | None = None,
    throughput: list[list[float]] | None = None,
    arrival: list[float] | None = None,
    ran_s: list[float] | None = None,
    current: list[int] | None = None,
) -> Context:
    """One job per entry of ``attained`` (GPU-seconds): 1 GPU, 1 step/s on every type, arrived
    in id order, waiting; ``ran_s`` is the seconds each ran, all on type 0."""
    n, k = len(attained), len(capacity)
    time_on_type = np.zeros((n, k))
    time_on_type[:, 0] = ran_s or [0.0] * n
    return make_context(
        capacity, n, now=now, gpus=gpus, throughput=throughput, remaining=1e6, arrival=arrival,
        current=current, attained_gpu_s=np.array(attained, dtype=float), time_on_type=time_on_type,
    )  # fmt: skip


def assign(policy: Las, ctx: Context) -> list[int]:
    target = policy.assign(ctx)
    check_assignment(ctx, target)
    return [int(w) for w in target]


def test_lower_queue_first_then_fifo() -> None:
    # Default thresholds 3600 / 36000 GPU-s: queues 2, 1, 0, 0. Order: job 2, job 3 (queue 0,
    # by arrival), job 1, job 0 — job 0 is running and is preempted.
    attained = [40000.0, 4000.0, 3000.0, 0.0]
    ctx = context([2], attained, current=[0, X, X, X])
    assert assign(Las(), ctx) == [X, X, 0, 0]
    assert assign(Las(), context([3], attained, current=[0, X, X, X])) == [X, 0, 0, 0]


def test_a_job_is_demoted_at_the_threshold() -> None:
    # One GPU; the running job 0 arrived first. Below the threshold it keeps the GPU (same
    # queue, FIFO); at the threshold it drops a queue and the newcomer takes it.
    policy = Las(thresholds_gpu_s=[100.0], starve_factor=None)
    assert assign(policy, context([1], [99.0, 0.0], current=[0, X])) == [0, X]
    assert assign(policy, context([1], [100.0, 0.0], current=[0, X])) == [X, 0]


def test_the_starvation_guard_promotes_a_waiting_job() -> None:
    # 4 GPUs, threshold 300 GPU-s, starve factor 0.5. X (4 GPUs) ran 100 s -> 400 GPU-s,
    # queue 1; Y (4 GPUs) arrives at 100 and takes the cluster.
    policy = Las(thresholds_gpu_s=[300.0], starve_factor=0.5)
    kw: dict[str, Any] = {"gpus": [4, 4], "arrival": [0.0, 100.0]}
    ctx = context([4], [400.0, 0.0], now=100.0, ran_s=[100.0, 0.0], current=[0, X], **kw)
    assert assign(policy, ctx) == [X, 0]
    # At 140 X has waited 40 s < 0.5 x 100 s: still queue 1; Y (160 GPU-s) keeps running.
    ctx = context([4], [400.0, 160.0], now=140.0, ran_s=[100.0, 40.0], current=[X, 0], **kw)
    assert assign(policy, ctx) == [X, 0]
    # At 160 X has waited 60 s >= 50 s: promoted to queue 0, where it arrived before Y.
    ctx = context([4], [400.0, 240.0], now=160.0, ran_s=[100.0, 60.0], current=[X, 0], **kw)
    assert assign(policy, ctx) == [0, X]
    # Its service counts from the promotion: 160 GPU-s later it is still in queue 0.
    ctx = context([4], [560.0, 240.0], now=200.0, ran_s=[140.0, 60.0], current=[0, X], **kw)
    assert assign(policy, ctx) == [0, X]
    # Without the guard X would still wait at 160.
    unguarded = Las(thresholds_gpu_s=[300.0], starve_factor=None)
    ctx = context([4], [400.0, 0.0], now=100.0, ran_s=[100.0, 0.0], current=[0, X], **kw)
    assert assign(unguarded, ctx) == [X, 0]
    ctx = context([4], [400.0, 240.0], now=160.0, ran_s=[100.0, 60.0], current=[X, 0], **kw)
    assert assign(unguarded, ctx) == [X, 0]


def test_current_type_if_it_has_room_else_the_fastest() -> None:
    # Type 0 is twice as fast. Job 0 runs on type 1 and stays; job 1 takes type 0.
    rates = [[2.0, 1.0], [2.0, 1.0]]
    ctx = context([1, 1], [0.0, 0.0], throughput=rates, current=[1, X])
    assert assign(Las(), ctx) == [1, 0]


def test_options_are_checked_and_the_policy_is_registered() -> None:
    with pytest.raises(ValueError, match="starve_factor must be positive"):
        Las(starve_factor=0.0)
    assert isinstance(make_policy("las", thresholds_gpu_s=[10.0]), Las)


def test_no_jobs() -> None:
    assert assign(Las(), context([4], [])) == []


def test_simulated_newcomer_preempts_a_demoted_job() -> None:
    # 1 GPU, rounds of 100 s, threshold 300 GPU-s. Job 0 (1000 s) runs alone and is demoted at
    # 300; job 1 (200 s) arrives at 450, joins at 500 in queue 0, runs 500-700; job 0 resumes.
    workload = Workload(
        job_id=np.arange(2, dtype=np.int64),
        gpus=np.ones(2, dtype=np.int64),
        throughput=np.ones((2, 1)),
        total_steps=np.array([1000.0, 200.0]),
        arrival_s=np.array([0.0, 450.0]),
    )
    policy = make_policy("las", thresholds_gpu_s=[300.0])
    result = simulate(workload, policy, gpu_types=("g",), capacity=(1,), round_s=100.0)
    assert np.isfinite(result.jct_s).all()
    assert result.completion_s.tolist() == [1200.0, 700.0]
    assert result.preemptions.tolist() == [1, 0]


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=150, deadline=None)
def test_any_context_gets_a_valid_assignment_and_nothing_changes_it(seed: int) -> None:
    ctx = random_context(seed)
    policy = Las(thresholds_gpu_s=[100.0, 2000.0], starve_factor=None)
    target = policy.assign(ctx)
    check_assignment(ctx, target)
    ctx.current_type = target
    assert (policy.assign(ctx) == target).all()
    check_assignment(ctx, Las(starve_factor=0.1).assign(ctx))
