"""The round-based simulator: Gavel's round semantics, failures, determinism, and invariants
that hold for every registered policy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpufleet.scheduling.policies  # noqa: F401 - registers the policies
from gpufleet.scheduling.core import make_policy, policy_names
from gpufleet.sim.rounds_sim import Failure, Workload, simulate


def workload(
    rates: list[list[float]],
    steps: list[float],
    arrivals: list[float],
    gpus: list[int] | None = None,
) -> Workload:
    n = len(steps)
    return Workload(
        job_id=np.arange(n, dtype=np.int64),
        gpus=np.array(gpus or [1] * n, dtype=np.int64),
        throughput=np.array(rates, dtype=np.float64),
        total_steps=np.array(steps, dtype=np.float64),
        arrival_s=np.array(arrivals, dtype=np.float64),
    )


def test_shortest_job_first_on_one_gpu_with_round_boundaries() -> None:
    # One GPU, 1 step/s. min-jct runs the 360-step job first (done at 360 s); the 720-step
    # job starts at that boundary and needs two rounds: done at 1,080 s.
    result = simulate(
        workload([[1.0], [1.0]], [720.0, 360.0], [0.0, 0.0]),
        make_policy("min-jct"),
        gpu_types=["a"],
        capacity=[1],
    )
    assert result.jct_s.tolist() == [1080.0, 360.0]
    assert result.first_start_s.tolist() == [360.0, 0.0]
    assert result.rounds == 3


def test_a_round_ends_when_its_slowest_job_ends_and_arrivals_wait_for_it() -> None:
    # Job 0 at 0.5 steps/s runs floor(0.5 * 360) = 180 steps a round; job 1 arrives at 100 s,
    # mid-round, and starts at the boundary (360 s), on the second GPU.
    jobs = workload([[0.5], [1.0]], [360.0, 10.0], [0.0, 100.0])
    result = simulate(jobs, make_policy("min-jct"), gpu_types=["a"], capacity=[2])
    assert result.first_start_s.tolist() == [0.0, 360.0]
    assert result.jct_s[1] == pytest.approx(360.0 + 10.0 - 100.0)
    assert result.jct_s[0] == pytest.approx(720.0)


def test_rounds_run_whole_steps_so_they_end_just_before_the_round_length() -> None:
    # 0.7 steps/s: int(0.7 * 360) = 251 steps (0.7 * 360 is 251.99999... in floating point,
    # as in Gavel), taking 358.57 s: the round, and the next arrival's start, end there.
    jobs = workload([[0.7], [1.0]], [502.0, 10.0], [0.0, 100.0])
    result = simulate(jobs, make_policy("min-jct"), gpu_types=["a"], capacity=[2])
    assert result.first_start_s[1] == pytest.approx(251 / 0.7)


def test_a_job_that_starts_or_moves_pays_the_restart_overhead() -> None:
    jobs = workload([[1.0]], [300.0], [0.0])
    result = simulate(
        jobs, make_policy("min-jct"), gpu_types=["a"], capacity=[1], restart_overhead_s=60.0
    )
    assert result.jct_s[0] == pytest.approx(360.0)  # 60 s restore + 300 s of work


def test_a_failed_gpu_requeues_its_job_which_still_finishes() -> None:
    # Two GPUs, two 720-step jobs. At 100 s one GPU fails for an hour: the newest job on it
    # loses its first round's progress and waits for the other job to finish.
    jobs = workload([[1.0], [1.0]], [720.0, 720.0], [0.0, 0.0])
    result = simulate(
        jobs,
        make_policy("min-jct"),
        gpu_types=["a"],
        capacity=[2],
        failures=[Failure(at_s=100.0, gpu_type=0, gpus=1, repair_s=3600.0)],
    )
    assert result.jct_s[0] == pytest.approx(720.0)
    assert result.jct_s[1] == pytest.approx(720.0 + 720.0)
    assert result.preemptions[1] == 1


def test_the_measured_window_ends_the_run() -> None:
    jobs = workload([[1.0]] * 3, [100.0, 100.0, 100.0], [0.0, 0.0, 5000.0])
    result = simulate(jobs, make_policy("min-jct"), gpu_types=["a"], capacity=[1], measure=[0, 1])
    assert np.isnan(result.jct_s[2])
    assert result.end_s < 5000.0


def test_bad_shapes_are_errors() -> None:
    jobs = workload([[1.0]], [1.0], [0.0])
    with pytest.raises(ValueError, match="expected"):
        simulate(jobs, make_policy("min-jct"), gpu_types=["a", "b"], capacity=[1, 1])
    with pytest.raises(ValueError, match="2 capacities for 1 GPU types"):
        simulate(jobs, make_policy("min-jct"), gpu_types=["a"], capacity=[1, 1])


random_jobs = st.integers(1, 12).flatmap(
    lambda n: st.tuples(
        st.lists(
            st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0]), min_size=2, max_size=2).filter(
                lambda r: max(r) > 0
            ),
            min_size=n,
            max_size=n,
        ),
        st.lists(st.floats(1.0, 5000.0), min_size=n, max_size=n),
        st.lists(st.floats(0.0, 4000.0), min_size=n, max_size=n),
        st.lists(st.integers(1, 2), min_size=n, max_size=n),
    )
)


@pytest.mark.parametrize("name", policy_names())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=random_jobs, seed=st.integers(0, 3))
def test_every_policy_finishes_every_job_without_overbooking(
    name: str, case: tuple[list[list[float]], list[float], list[float], list[int]], seed: int
) -> None:
    rates, steps, arrivals, gpus = case
    jobs = workload(rates, steps, sorted(arrivals), gpus)
    # check_assignment inside decide raises on any overbooked type, split gang or job placed
    # where it cannot run; the run must also end with every job complete.
    result = simulate(
        jobs, make_policy(name, seed=seed), gpu_types=["a", "b"], capacity=[2, 2], round_s=60.0
    )
    assert np.isfinite(result.jct_s).all()
    best = np.array(steps) / np.array(rates).max(axis=1)
    assert (result.jct_s >= best - 1e-6).all()


@pytest.mark.parametrize("name", policy_names())
def test_a_run_is_deterministic_for_a_seed(name: str) -> None:
    rng = np.random.default_rng(5)
    n = 40
    jobs = workload(
        rng.choice([0.5, 1.0, 2.0], size=(n, 3)).tolist(),
        rng.uniform(100, 5000, n).tolist(),
        np.sort(rng.uniform(0, 3000, n)).tolist(),
    )
    runs = [
        simulate(
            jobs,
            make_policy(name, seed=3),
            gpu_types=["a", "b", "c"],
            capacity=[3, 2, 2],
            round_s=120.0,
        )
        for _ in range(2)
    ]
    assert np.array_equal(runs[0].jct_s, runs[1].jct_s, equal_nan=True)
    assert np.array_equal(runs[0].preemptions, runs[1].preemptions)


# ---------------------------------------------------------------------------- regressions


def test_a_job_slower_than_a_step_a_round_still_finishes() -> None:
    jobs = workload([[0.002]], [3.0], [0.0])  # 500 s a step: rounds of one step each
    result = simulate(jobs, make_policy("max-min-fairness"), gpu_types=["a"], capacity=[1])
    assert result.jct_s[0] == pytest.approx(1500.0)


def test_a_policy_object_drives_one_run_only() -> None:
    jobs = workload([[1.0]], [10.0], [0.0])
    policy = make_policy("fifo")
    simulate(jobs, policy, gpu_types=["a"], capacity=[1])
    with pytest.raises(ValueError, match="already drove a run"):
        simulate(jobs, policy, gpu_types=["a"], capacity=[1])


def test_a_failure_does_not_undo_a_job_that_finished_in_the_round() -> None:
    # Job 1 finishes at 100 s; a GPU fails at 200 s, before the round ends: the failed GPU is
    # the one job 1 no longer needs, so nobody loses work.
    jobs = workload([[1.0], [1.0]], [100_000.0, 100.0], [0.0, 0.0])
    failure = Failure(at_s=200.0, gpu_type=0, gpus=1, repair_s=10_000.0)
    result = simulate(
        jobs, make_policy("min-jct"), gpu_types=["a"], capacity=[2], failures=[failure]
    )
    assert result.completion_s[1] == pytest.approx(100.0)
    assert result.preemptions.tolist() == [0, 0]
    assert result.completion_s[0] == pytest.approx(100_000.0)


def test_gavel_policies_recompute_when_gpus_fail() -> None:
    # One job, alone: 10,000 s on the fast type, 20,000 s on the slow one. The fast GPU fails
    # for 10 h at 1,000 s: the job moves to the slow GPU instead of waiting for the repair.
    jobs = workload([[2.0, 1.0]], [20_000.0], [0.0])
    failure = Failure(at_s=1000.0, gpu_type=0, gpus=1, repair_s=36_000.0)
    result = simulate(
        jobs,
        make_policy("fifo-perf"),
        gpu_types=["fast", "slow"],
        capacity=[1, 1],
        failures=[failure],
    )
    assert result.jct_s[0] < 36_000.0
    assert result.busy_gpu_s[1] > 0


def test_the_order_the_cluster_lists_types_in_does_not_change_an_aware_policy() -> None:
    rng = np.random.default_rng(1)
    rates = rng.choice([0.5, 1.0, 3.0], size=(30, 3))
    steps = rng.uniform(500, 5000, 30).tolist()
    arrivals = np.sort(rng.uniform(0, 2000, 30)).tolist()
    forward = simulate(
        workload(rates.tolist(), steps, arrivals),
        make_policy("gavel-mmf"),
        gpu_types=["a", "b", "c"],
        capacity=[2, 2, 2],
        round_s=120.0,
    )
    backward = simulate(
        workload(rates[:, ::-1].tolist(), steps, arrivals),
        make_policy("gavel-mmf"),
        gpu_types=["c", "b", "a"],
        capacity=[2, 2, 2],
        round_s=120.0,
    )
    # The same fastest-first order either way; what is left is the LP's choice among equally
    # fair allocations, so the averages agree closely rather than job by job.
    assert np.mean(forward.jct_s) == pytest.approx(np.mean(backward.jct_s), rel=0.05)


def test_bad_runs_are_refused_up_front() -> None:
    jobs = workload([[1.0]], [10.0], [0.0])
    with pytest.raises(ValueError, match=r"measured rows \[5\]"):
        simulate(jobs, make_policy("fifo"), gpu_types=["a"], capacity=[1], measure=[0, 5])
    with pytest.raises(ValueError, match="must be finite"):
        simulate(
            workload([[1.0]], [10.0], [float("nan")]),
            make_policy("fifo"),
            gpu_types=["a"],
            capacity=[1],
        )
