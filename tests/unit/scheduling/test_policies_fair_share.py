"""``fair-share``: weighted DRF across projects over lendable quotas, worked out by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpufleet.scheduling.core import NOT_RUNNING, Context, check_assignment, make_policy
from gpufleet.scheduling.policies.fair_share import FairShare
from gpufleet.sim.rounds_sim import Workload, simulate

from factories import make_context, random_context

X = NOT_RUNNING


def context(
    capacity: list[int],
    project: list[int],
    *,
    gpus: list[int] | None = None,
    throughput: list[list[float]] | None = None,
    arrival: list[float] | None = None,
    current: list[int] | None = None,
    **extra: Any,
) -> Context:
    """One job per entry of ``project`` (projects ``a``, ``b``, ...): 1 GPU, 1 step/s on every
    type, arrived in id order, waiting — unless told otherwise."""
    fields: dict[str, Any] = {
        "project": np.array(project, dtype=np.int64),
        "projects": ("a", "b", "c")[: max(project, default=0) + 1],
        **extra,
    }
    return make_context(
        capacity, len(project), gpus=gpus, throughput=throughput, arrival=arrival,
        current=current, **fields,
    )  # fmt: skip


def assign(ctx: Context) -> list[int]:
    target = FairShare().assign(ctx)
    check_assignment(ctx, target)
    return [int(w) for w in target]


def test_weights_split_the_cluster_by_dominant_share() -> None:
    # 4 GPUs, a weighted 3, b 1, four jobs each. Progressive filling: a0 (tie at 0; earlier),
    # b0 (0 < 1/12), a1 (1/12 < 1/4), a2 (2/12 < 1/4) -> full: a holds 3, b holds 1.
    ctx = context(
        [4], [0, 1, 0, 1, 0, 1, 0, 1], arrival=[0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5],
        weight={"a": 3.0},
    )  # fmt: skip
    assert assign(ctx) == [0, 0, 0, X, 0, X, X, X]


def test_a_new_project_takes_its_share_from_running_borrowers() -> None:
    # No quotas: everything is borrowed. a runs all 4 GPUs; b's job arrives: a0 (tie, earlier),
    # b0, a1, a2 -> a's latest job a3 is preempted.
    ctx = context([4], [0, 0, 0, 0, 1], current=[0, 0, 0, 0, X])
    assert assign(ctx) == [0, 0, 0, X, 0]


def test_idle_quota_is_lent_out() -> None:
    quota = {"a": np.array([2]), "b": np.array([2])}
    ctx = context([4], [0, 0, 0, 0], quota=quota, projects=("a", "b"))
    assert assign(ctx) == [0, 0, 0, 0]


def test_a_project_under_quota_reclaims_borrowed_gpus() -> None:
    # a runs 4 GPUs, 2 of them b's quota; b's two jobs arrive. Even with a weighted 100,
    # the guaranteed pass gives b its 2 before anyone borrows: a2 and a3 are preempted.
    quota = {"a": np.array([2]), "b": np.array([2])}
    ctx = context(
        [4], [0, 0, 0, 0, 1, 1], current=[0, 0, 0, 0, X, X], quota=quota, weight={"a": 100.0}
    )
    assert assign(ctx) == [0, 0, X, X, 0, 0]
    # One job of b reclaims one GPU; the other borrowed GPU stays with a.
    ctx = context([4], [0, 0, 0, 0, 1], current=[0, 0, 0, 0, X], quota=quota)
    assert assign(ctx) == [0, 0, 0, X, 0]


def test_quota_is_per_gpu_type() -> None:
    # b's quota is on type 1 only; b's job prefers type 0 (faster) but a holds it within
    # quota, so b runs on type 1, reclaiming it from a's borrower a1.
    quota = {"a": np.array([1, 0]), "b": np.array([0, 1])}
    ctx = context(
        [1, 1], [0, 0, 1], current=[0, 1, X], quota=quota,
        throughput=[[2, 1], [2, 1], [2, 1]],
    )  # fmt: skip
    assert assign(ctx) == [0, X, 1]


def test_cpu_can_be_the_dominant_resource() -> None:
    # 6 GPUs and 8 CPU cores. a's jobs take 1 GPU + 4 cores (share 1/2 each), b's 1 GPU
    # (1/6 each): a0, b0, b1, b2, a1 -> CPU full; a2 waits with a GPU idle.
    project = [0, 1, 0, 1, 0, 1]
    cpu = np.array([4000.0, 0, 4000, 0, 4000, 0])
    ctx = context([6], project, cpu_milli=cpu, cpu_capacity_milli=8000.0)
    assert assign(ctx) == [0, 0, 0, 0, X, 0]
    # Without CPU modelled, every job fits.
    assert assign(context([6], project, cpu_milli=cpu)) == [0] * 6


def test_fifo_within_a_project_and_running_jobs_stay_on_their_type() -> None:
    # Within a: a1 (arrived first) before a2, whatever their order in the context. a0 runs on
    # the slow type 1 and stays there although type 0 is faster and free.
    ctx = context(
        [1, 1], [0, 0, 0], arrival=[0, 2, 1], current=[1, X, X],
        throughput=[[2, 1], [2, 1], [2, 1]],
    )  # fmt: skip
    assert assign(ctx) == [1, X, 0]


def test_bad_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="weights must be positive"):
        FairShare().assign(context([1], [0], weight={"a": 0.0}))


def test_no_jobs() -> None:
    assert assign(context([4], [])) == []


def test_simulated_reclaim_preempts_the_borrower_once() -> None:
    # 2 GPUs, a and b guaranteed 1 each. a's two jobs run from 0 (one on b's idle quota);
    # b's job arrives at 250 and joins at the 300 boundary, taking its GPU back from a1,
    # which resumes when b's job ends at 600.
    workload = Workload(
        job_id=np.arange(3, dtype=np.int64),
        gpus=np.ones(3, dtype=np.int64),
        throughput=np.ones((3, 1)),
        total_steps=np.array([1000.0, 1000.0, 300.0]),
        arrival_s=np.array([0.0, 0.0, 250.0]),
        project=np.array([0, 0, 1], dtype=np.int64),
        projects=("a", "b"),
    )
    result = simulate(
        workload, make_policy("fair-share"), gpu_types=("g",), capacity=(2,), round_s=100.0,
        quota={"a": [1], "b": [1]},
    )  # fmt: skip
    assert np.isfinite(result.jct_s).all()
    assert result.preemptions.tolist() == [0, 1, 0]
    assert result.first_start_s[2] == 300.0
    assert result.completion_s.tolist() == [1000.0, 1300.0, 600.0]


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=150, deadline=None)
def test_any_context_gets_a_valid_assignment_and_nothing_changes_it(seed: int) -> None:
    ctx = random_context(seed)
    target = FairShare().assign(ctx)
    check_assignment(ctx, target)
    placed = target != X
    if ctx.cpu_capacity_milli > 0:
        assert ctx.cpu_milli[placed].sum() <= ctx.cpu_capacity_milli
    ctx.current_type = target  # the next round, with nothing changed, preempts nothing
    assert (FairShare().assign(ctx) == target).all()


@given(st.integers(0, 10_000))
@settings(max_examples=200, deadline=None)
def test_every_project_gets_its_quota_when_it_has_the_jobs(seed: int) -> None:
    # Single-GPU jobs that run anywhere, quotas within capacity: each project runs at least
    # min(its jobs, its total quota) GPUs, whoever was borrowing before.
    rng = np.random.default_rng(seed)
    k, n = int(rng.integers(1, 4)), int(rng.integers(0, 40))
    capacity = rng.integers(0, 8, k)
    share = rng.dirichlet(np.ones(3), size=k).T  # per project, per type
    quota = {p: np.floor(share[i] * capacity).astype(np.int64) for i, p in enumerate("abc")}
    project = rng.integers(0, 3, n)
    ctx = Context(
        now=1000.0, round_s=100.0, gpu_types=tuple(f"t{w}" for w in range(k)),
        capacity=capacity, job_id=np.arange(n, dtype=np.int64), gpus=np.ones(n, dtype=np.int64),
        throughput=rng.choice([0.5, 1.0, 2.0], (n, k)), remaining_steps=np.full(n, 1e4),
        arrival_s=rng.uniform(0, 100, n), attained_gpu_s=np.zeros(n), time_on_type=np.zeros((n, k)),
        current_type=np.where(rng.random(n) < 0.5, rng.integers(0, k, n), X), project=project,
        projects=("a", "b", "c"), quota=quota,
    )  # fmt: skip
    assigned = make_policy("fair-share").assign(ctx)
    for i, p in enumerate("abc"):
        jobs = int((project == i).sum())
        running = int(((project == i) & (assigned != X)).sum())
        assert running >= min(jobs, int(quota[p].sum())), (p, jobs, quota[p], running)
