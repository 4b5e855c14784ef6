"""decide(): actions from a policy's assignment; the checks every assignment must pass."""

from __future__ import annotations

import numpy as np
import pytest

import gpufleet.scheduling.policies  # noqa: F401 - registers the policies
from gpufleet.scheduling.core import (
    NOT_RUNNING,
    Context,
    Int,
    Policy,
    Preempt,
    Start,
    decide,
    make_policy,
    policy_names,
)


def context(
    current: list[int],
    gpus: list[int] | None = None,
    rates: list[list[float]] | None = None,
    capacity: list[int] | None = None,
) -> Context:
    n = len(current)
    return Context(
        now=0.0,
        round_s=360.0,
        gpu_types=("a", "b"),
        capacity=np.array(capacity or [2, 2], dtype=np.int64),
        job_id=np.arange(10, 10 + n, dtype=np.int64),
        gpus=np.array(gpus or [1] * n, dtype=np.int64),
        throughput=np.array(rates or [[1.0, 1.0]] * n),
        remaining_steps=np.full(n, 100.0),
        arrival_s=np.zeros(n),
        attained_gpu_s=np.zeros(n),
        time_on_type=np.zeros((n, 2)),
        current_type=np.array(current, dtype=np.int64),
    )


class Fixed(Policy):
    def __init__(self, target: list[int]) -> None:
        self.target = target

    def assign(self, context: Context) -> Int:
        return np.array(self.target, dtype=np.int64)


def test_actions_preempt_what_stops_or_moves_and_start_what_starts_or_moves() -> None:
    # job 10 keeps type 0; 11 moves 0 -> 1; 12 stops; 13 starts on 1
    actions = decide(Fixed([0, 1, NOT_RUNNING, 1]), context([0, 0, 1, NOT_RUNNING]))
    assert actions == [Preempt(11), Preempt(12), Start(11, 1, 1), Start(13, 1, 1)]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ([0, 0, 0], "uses \\[3, 0\\] GPUs; capacity \\[2, 2\\]"),
        ([0, 2, 1], "unknown GPU type"),
        ([0, 1], "shape"),
    ],
)
def test_overbooking_unknown_types_and_wrong_shapes_are_refused(
    target: list[int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        decide(Fixed(target), context([NOT_RUNNING] * 3))


def test_a_gang_counts_whole_and_jobs_only_go_where_they_can_run() -> None:
    with pytest.raises(ValueError, match="uses \\[3, 0\\]"):
        decide(Fixed([0, 0]), context([NOT_RUNNING] * 2, gpus=[2, 1]))
    with pytest.raises(ValueError, match="cannot run on"):
        decide(Fixed([1]), context([NOT_RUNNING], rates=[[1.0, 0.0]]))


def test_the_registry() -> None:
    assert {"fifo", "fifo-perf", "gavel-mmf", "max-min-fairness", "min-jct"} <= set(policy_names())
    with pytest.raises(KeyError, match="unknown policy 'nope'; known: "):
        make_policy("nope")


def test_gavel_fifo_perf_puts_each_job_on_its_fastest_type_with_room() -> None:
    # capacity 1 + 1; both jobs prefer type 0: the first (lower id) gets it, the second type 1.
    ctx = context([NOT_RUNNING] * 2, rates=[[3.0, 1.0], [2.0, 1.0]], capacity=[1, 1])
    assert make_policy("fifo-perf").assign(ctx).tolist() == [0, 1]


def test_gavel_priorities_favour_the_job_that_received_less_than_its_share() -> None:
    # Agnostic max-min: 3 jobs, 2 GPUs of one type: each is owed 2/3 of the time. After one
    # round in which jobs 0 and 1 ran, job 2 has the highest priority and runs.
    policy = make_policy("max-min-fairness")
    ctx = Context(
        now=0.0,
        round_s=360.0,
        gpu_types=("a",),
        capacity=np.array([2]),
        job_id=np.arange(3),
        gpus=np.ones(3, dtype=np.int64),
        throughput=np.ones((3, 1)),
        remaining_steps=np.full(3, 1e6),
        arrival_s=np.zeros(3),
        attained_gpu_s=np.zeros(3),
        time_on_type=np.zeros((3, 1)),
        current_type=np.full(3, NOT_RUNNING),
        busy_s=np.zeros(1),
    )
    first = policy.assign(ctx)
    assert sorted(first.tolist()) == [-1, 0, 0]
    ran = first == 0
    ctx.now = 360.0
    ctx.time_on_type = np.where(ran, 360.0, 0.0)[:, None]
    ctx.busy_s = np.array([720.0])
    ctx.current_type = first
    second = policy.assign(ctx)
    assert second[~ran].tolist() == [0]


@pytest.mark.parametrize("name", ["gavel-mmf", "fifo-perf", "max-min-fairness", "fifo"])
def test_gavel_policies_do_not_depend_on_the_order_of_job_ids(name: str) -> None:
    def ctx(ids: list[int]) -> Context:
        n = len(ids)
        return Context(
            now=0.0, round_s=360.0, gpu_types=("a",), capacity=np.array([3]),
            job_id=np.array(ids, dtype=np.int64), gpus=np.ones(n, dtype=np.int64),
            throughput=np.ones((n, 1)), remaining_steps=np.full(n, 100.0), arrival_s=np.zeros(n),
            attained_gpu_s=np.zeros(n), time_on_type=np.zeros((n, 1)),
            current_type=np.full(n, NOT_RUNNING), busy_s=np.zeros(1),
        )  # fmt: skip

    assert sorted(make_policy(name).assign(ctx([2, 1, 0])).tolist()) == [0, 0, 0]


def test_the_max_min_level_ignores_a_job_that_fits_nowhere_now() -> None:
    from gpufleet.scheduling.policies.gavel_policies import max_min_lp

    n = 3
    base = Context(
        now=0.0, round_s=360.0, gpu_types=("a", "b"), capacity=np.array([2, 0]),
        job_id=np.arange(n), gpus=np.ones(n, dtype=np.int64),
        throughput=np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 5.0]]),  # job 2 only runs on "b"
        remaining_steps=np.full(n, 100.0), arrival_s=np.zeros(n), attained_gpu_s=np.zeros(n),
        time_on_type=np.zeros((n, 2)), current_type=np.full(n, NOT_RUNNING),
    )  # fmt: skip
    x = max_min_lp(base)
    assert x[2].sum() == 0
    assert x[0, 0] == pytest.approx(1.0)  # jobs 0 and 1 each get a whole GPU of "a"
    assert x[1, 0] == pytest.approx(1.0)
