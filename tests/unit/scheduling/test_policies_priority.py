"""``priority``: strict priority with EASY backfill, on clusters small enough to work by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gpufleet.scheduling.core import NOT_RUNNING, Context, check_assignment, make_policy
from gpufleet.scheduling.policies.priority_backfill import PriorityBackfill
from gpufleet.sim.rounds_sim import Workload, simulate

from factories import make_context, random_context

X = NOT_RUNNING


def context(
    capacity: list[int],
    gpus: list[int],
    *,
    throughput: list[list[float]] | None = None,
    remaining: list[float] | None = None,
    arrival: list[float] | None = None,
    current: list[int] | None = None,
    priority: list[int] | None = None,
    now: float = 0.0,
) -> Context:
    """``n`` jobs on ``len(capacity)`` types; by default every job runs at 1 step/s everywhere,
    has 100 steps left, arrived in id order and is waiting."""
    n = len(gpus)
    return make_context(
        capacity, n, now=now, gpus=gpus, throughput=throughput, remaining=remaining or 100.0,
        arrival=arrival, current=current,
        priority=np.array(priority or [0] * n, dtype=np.int64),
    )  # fmt: skip


def assign(ctx: Context, **options: Any) -> list[int]:
    target = PriorityBackfill(**options).assign(ctx)
    check_assignment(ctx, target)
    return [int(w) for w in target]


def test_higher_priority_starts_first_and_running_jobs_keep_their_gpus() -> None:
    # job 0 runs at priority 0; job 2 (priority 5) arrived after job 1 but goes first.
    ctx = context([2], [1, 1, 1], current=[0, X, X], priority=[0, 0, 5])
    assert assign(ctx) == [0, X, 0]
    # A higher-priority job that does not fit waits: nothing is preempted for it.
    ctx = context([2], [2, 2], current=[0, X], priority=[0, 9])
    assert assign(ctx) == [0, X]


def test_backfill_starts_a_short_job_but_not_a_long_one() -> None:
    # R holds 2 of 4 GPUs until t = 1000; head H needs all 4, so it reserves them from 1000
    # with none to spare. L (5000 s) would delay H; S (500 s) ends first.
    #                 R  H  L  S
    ctx = context(
        [4], [2, 4, 1, 1], remaining=[1000, 100, 5000, 500], current=[0, X, X, X],
        priority=[0, 1, 0, 0],
    )  # fmt: skip
    assert assign(ctx) == [0, X, X, 0]
    assert assign(ctx, backfill=False) == [0, X, X, X]


def test_a_long_job_may_use_gpus_the_reservation_leaves_over() -> None:
    # 6 GPUs: R holds 2 until 1000, H needs 5 -> at 1000 one GPU is spare for a long job.
    #                 R  H  L1 L2
    ctx = context(
        [6], [2, 5, 1, 1], remaining=[1000, 100, 5000, 5000], current=[0, X, X, X],
        priority=[0, 1, 0, 0],
    )  # fmt: skip
    assert assign(ctx) == [0, X, 0, X]


def test_a_long_job_backfills_on_a_type_without_the_reservation() -> None:
    # As above with a second type of 1 GPU where H cannot run: L goes there, S onto type 0.
    ctx = context(
        [4, 1], [2, 4, 1, 1], remaining=[1000, 100, 5000, 500], current=[0, X, X, X],
        priority=[0, 1, 0, 0], throughput=[[1, 1], [1, 0], [1, 1], [1, 1]],
    )  # fmt: skip
    assert assign(ctx) == [0, X, 1, 0]


def test_the_reservation_counts_jobs_started_this_round() -> None:
    # 5 GPUs: R holds 2 until 1000; A (priority 2, 2 GPUs, 300 s) starts now, leaving 1 free.
    # B needs 3: A's end at 300 frees enough, so B's shadow time is 300, not R's 1000. C (400 s)
    # would delay B and waits; D (200 s) ends before 300 and takes the free GPU.
    #                 R  A  B  C  D
    ctx = context(
        [5], [2, 2, 3, 1, 1], remaining=[1000, 300, 100, 400, 200], current=[0, X, X, X, X],
        priority=[0, 2, 1, 0, 0],
    )  # fmt: skip
    assert assign(ctx) == [0, 0, X, X, 0]


def test_jobs_that_can_never_fit_do_not_block_and_zero_throughput_is_avoided() -> None:
    # X needs 8 GPUs of a 4 + 2 cluster: never; Z runs only on type 1; Y takes type 0.
    ctx = context([4, 2], [8, 1, 1], priority=[9, 5, 0], throughput=[[1, 1], [0, 1], [1, 1]])
    assert assign(ctx) == [X, 1, 0]


def test_running_jobs_give_way_only_when_their_type_lost_gpus() -> None:
    # Type 0 now has 2 GPUs for 3 running GPUs: the lower-priority job stops.
    ctx = context([2], [2, 1], current=[0, 0], priority=[0, 1])
    assert assign(ctx) == [X, 0]


def test_no_jobs() -> None:
    assert assign(context([4], [])) == []


def test_simulated_backfill_runs_the_short_job_early_and_never_preempts() -> None:
    # 4 GPUs, rounds of 100 s, 1 step/s. job 0 (2 GPUs) runs 0-1000. At the t = 100 boundary
    # job 1 (priority 1, 4 GPUs) reserves the cluster from 1000; job 2 (1 GPU, 300 s) fits
    # before that and starts at 100; job 3 (2 GPUs, 2000 s) would not, and waits for job 1.
    workload = Workload(
        job_id=np.arange(4, dtype=np.int64),
        gpus=np.array([2, 4, 1, 2], dtype=np.int64),
        throughput=np.ones((4, 1)),
        total_steps=np.array([1000.0, 500.0, 300.0, 2000.0]),
        arrival_s=np.array([0.0, 50.0, 50.0, 50.0]),
        priority=np.array([0, 1, 0, 0], dtype=np.int64),
    )
    result = simulate(
        workload, make_policy("priority"), gpu_types=("a",), capacity=(4,), round_s=100.0
    )
    assert np.isfinite(result.jct_s).all()
    assert result.first_start_s.tolist() == [0.0, 1000.0, 100.0, 1500.0]
    assert result.completion_s.tolist() == [1000.0, 1500.0, 400.0, 3500.0]
    assert result.preemptions.tolist() == [0, 0, 0, 0]


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=150, deadline=None)
def test_any_context_keeps_what_fits_and_is_a_fixed_point(seed: int) -> None:
    ctx = random_context(seed)
    target = PriorityBackfill().assign(ctx)
    check_assignment(ctx, target)
    running = ctx.current_type != X
    load = np.bincount(ctx.current_type[running], ctx.gpus[running], len(ctx.gpu_types))
    fits = running & (load <= ctx.capacity)[np.maximum(ctx.current_type, 0)]
    assert (target[fits] == ctx.current_type[fits]).all()
    ctx.current_type = target  # nothing changed: the next round keeps it all
    assert (PriorityBackfill().assign(ctx) == target).all()
