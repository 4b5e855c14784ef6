"""The job state machine: every allowed change, and a clear refusal for the rest."""

from __future__ import annotations

import pytest

from gpufleet.domain.job import ALLOWED, FINAL, JobSpec, JobState, TransitionError, transition


def test_the_happy_path_and_requeue() -> None:
    state = JobState.PENDING
    for target in (JobState.SCHEDULED, JobState.RUNNING, JobState.PREEMPTED, JobState.PENDING,
                   JobState.SCHEDULED, JobState.RUNNING, JobState.SUCCEEDED):  # fmt: skip
        state = transition(state, target)
    assert state.final


@pytest.mark.parametrize("final", sorted(FINAL))
def test_final_states_go_nowhere(final: JobState) -> None:
    for target in JobState:
        with pytest.raises(TransitionError, match=f"a {final.value} job cannot become"):
            transition(final, target)


def test_every_refusal_names_what_is_allowed() -> None:
    for current in JobState:
        for target in JobState:
            if target in ALLOWED[current]:
                assert transition(current, target) is target
            else:
                with pytest.raises(TransitionError) as caught:
                    transition(current, target)
                assert target.value in str(caught.value)
                assert "allowed:" in str(caught.value)


def test_a_spec_refuses_zero_gpus_and_empty_commands() -> None:
    with pytest.raises(ValueError, match="gpus must be at least 1, got 0"):
        JobSpec(project="p", command=("python",), gpus=0)
    with pytest.raises(ValueError, match="command must be a non-empty list"):
        JobSpec(project="p", command=())
    assert JobState.SCHEDULED.holds_gpus
    assert not JobState.PENDING.holds_gpus
