"""The scheduler tick's pure parts: the policy's context from a snapshot, and first-fit
placement of whole gangs on one node."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gpufleet.domain.fleet import Gpu, Node, NodeState, first_fit
from gpufleet.scheduling.core import NOT_RUNNING, Preempt, Start, decide, make_policy
from gpufleet.server.services.scheduler import ActiveJob, Snapshot, build_context
from gpufleet.server.services.scheduler_apply import FreeGpus, place


def node(node_id: int, name: str, model: str, gpus: int, allocated: set[int] | None = None,
         state: NodeState = NodeState.UP) -> Node:  # fmt: skip
    return Node(
        id=node_id,
        name=name,
        state=state,
        gpus=tuple(Gpu(index=i, model=model, memory_gib=80) for i in range(gpus)),
        allocated=frozenset(allocated or set()),
    )


def job(job_id: int, gpus: int = 1, models: tuple[str, ...] = (), holds: str | None = None,
        priority: int = 0, project: str = "p", **timing: float) -> ActiveJob:  # fmt: skip
    return ActiveJob(id=job_id, project=project, gpus=gpus, gpu_models=models, priority=priority,
                     submitted_s=float(job_id), holds=holds, **timing)  # fmt: skip


def snapshot(nodes: list[Node], jobs: list[ActiveJob]) -> Snapshot:
    return Snapshot(nodes=tuple(nodes), jobs=tuple(jobs), projects=("p", "q"),
                    quota={"p": {"H100-SXM": 2}}, weight={"p": 2.0})  # fmt: skip


def test_first_fit_takes_the_first_node_by_name_with_room_for_the_whole_gang() -> None:
    nodes = (
        node(1, "c", "H100-SXM", 4),
        node(2, "a", "H100-SXM", 4, allocated={0, 1, 2}),
        node(3, "b", "H100-SXM", 4, allocated={1}),
        node(4, "0-lost", "H100-SXM", 8, state=NodeState.LOST),
    )
    assert first_fit(nodes, "H100-SXM", 1) == (nodes[1], (3,))
    assert first_fit(nodes, "H100-SXM", 3) == (nodes[2], (0, 2, 3))
    assert first_fit(nodes, "H100-SXM", 4) == (nodes[0], (0, 1, 2, 3))
    assert first_fit(nodes, "H100-SXM", 5) is None  # never split, never on a lost node
    assert first_fit(nodes, "A100-80GB", 1) is None


def test_the_context_counts_held_gpus_against_capacity_and_allows_only_listed_models() -> None:
    snap = snapshot(
        [node(1, "a", "H100-SXM", 4, allocated={0, 1}), node(2, "b", "A100-80GB", 2)],
        [
            job(1, 2, holds="H100-SXM", time_limit_s=600, since_s=40),
            job(2, 1, ("A100-80GB",), priority=5, time_limit_s=300),
            job(3, 2),
        ],
    )
    context = build_context(snap, 100.0, 1.0, default_time_limit_s=86400)
    assert context is not None
    assert context.gpu_types == ("A100-80GB", "H100-SXM")
    assert context.capacity.tolist() == [2, 4]
    assert context.current_type.tolist() == [1, NOT_RUNNING, NOT_RUNNING]
    assert context.throughput.tolist() == [[1, 1], [1, 0], [1, 1]]
    assert context.priority.tolist() == [0, 5, 0]
    assert context.arrival_s.tolist() == [1.0, 2.0, 3.0]
    # Run times left by the time limits: 600 s less the 60 s it has held its GPUs; a pending
    # job's whole limit; the default estimate for a job without one.
    assert context.remaining_steps.tolist() == [540, 300, 86400]
    assert context.quota["p"].tolist() == [0, 2]
    assert np.array_equal(context.project, [0, 0, 0])


def test_nothing_to_decide_without_gpus_or_pending_jobs() -> None:
    assert build_context(snapshot([], [job(1)]), 0.0, 1.0) is None
    running_only = snapshot([node(1, "a", "H100-SXM", 1, {0})], [job(1, holds="H100-SXM")])
    assert build_context(running_only, 0.0, 1.0) is None


def test_the_priority_policy_starts_what_fits_and_placement_keeps_gangs_whole() -> None:
    snap = snapshot(
        [node(1, "a", "H100-SXM", 2, allocated={0}), node(2, "b", "H100-SXM", 2, allocated={0})],
        [job(1, 1, holds="H100-SXM"), job(2, 1, holds="H100-SXM"), job(3, 2, priority=9),
         job(4, 1)],
    )  # fmt: skip
    context = build_context(snap, 10.0, 1.0)
    assert context is not None
    actions = decide(make_policy("priority"), context)
    assert Start(3, 0, 2) in actions  # 2 GPUs free in all, but one on each node
    assert not any(isinstance(a, Start) and a.job == 4 for a in actions)  # behind job 3
    placements, unplaced = place(snap, actions, context.gpu_types)
    assert unplaced == (3,)
    assert placements == []  # job 3 waits for a node to free up; job 4 waits behind it


def test_placement_books_gpus_as_it_goes() -> None:
    snap = snapshot([node(1, "a", "H100-SXM", 2), node(2, "b", "H100-SXM", 2)],
                    [job(1, 1), job(2, 2), job(3, 1)])  # fmt: skip
    context = build_context(snap, 10.0, 1.0)
    assert context is not None
    placements, unplaced = place(snap, decide(make_policy("priority"), context), ("H100-SXM",))
    assert unplaced == ()
    assert sorted((p.job, p.node_id, p.gpu_indices) for p in placements) == [
        (1, 1, (0,)), (2, 2, (0, 1)), (3, 1, (1,)),
    ]  # fmt: skip


def test_place_ignores_preemptions_and_moves_of_jobs_holding_gpus() -> None:
    snap = snapshot([node(1, "a", "H100-SXM", 2, {0})], [job(1, holds="H100-SXM"), job(2)])
    placements, unplaced = place(snap, [Preempt(1), Start(1, 0, 1), Start(2, 0, 1)], ("H100-SXM",))
    assert [(p.job, p.gpu_indices) for p in placements] == [(2, (1,))]
    assert unplaced == ()


MODELS = ("A100-80GB", "H100-SXM")


@st.composite
def fleets(draw: st.DrawFn) -> tuple[Node, ...]:
    """Nodes in any name order, some lost, with GPUs of one or two models, some allocated."""
    names = draw(st.lists(st.text("abc", min_size=1, max_size=3), max_size=8, unique=True))
    nodes = []
    for node_id, name in enumerate(names, start=1):
        models = draw(st.lists(st.sampled_from(MODELS), min_size=0, max_size=8))
        indices = draw(st.permutations(range(len(models))))
        gpus = tuple(
            Gpu(index=i, model=m, memory_gib=80) for i, m in zip(indices, models, strict=True)
        )
        allocated = draw(st.sets(st.sampled_from(indices))) if indices else set()
        state = draw(st.sampled_from([NodeState.UP, NodeState.UP, NodeState.LOST]))
        nodes.append(Node(id=node_id, name=name, state=state, gpus=gpus,
                          allocated=frozenset(allocated)))  # fmt: skip
    return tuple(nodes)


@given(fleets(), st.lists(st.tuples(st.sampled_from(MODELS), st.integers(1, 9)), max_size=20))
@settings(max_examples=300, deadline=None)
def test_free_gpus_choose_as_first_fit_does_and_never_book_a_gpu_twice(
    nodes: tuple[Node, ...], gangs: list[tuple[str, int]]
) -> None:
    free = FreeGpus(nodes)
    reference = {n.id: n for n in nodes}
    booked: set[tuple[int, int]] = set()
    for model, gpus in gangs:
        expected = first_fit(tuple(reference.values()), model, gpus)
        found = free.take(model, gpus)
        if expected is None:
            assert found is None
            continue
        assert found is not None
        assert (found[0].id, found[1]) == (expected[0].id, expected[1])
        node = reference[found[0].id]
        assert node.state is NodeState.UP
        taken = {(node.id, i) for i in found[1]}
        assert len(taken) == gpus
        assert not taken & booked
        assert all(i not in node.allocated for i in found[1])
        booked |= taken
        reference[node.id] = dataclasses.replace(node, allocated=node.allocated | set(found[1]))
