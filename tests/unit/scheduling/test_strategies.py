"""Each strategy's rule on small clusters where the right answer can be worked out by hand,
and properties every strategy must keep (Hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpufleet.scheduling.placement import (
    ClusterState,
    NodeSpec,
    Placement,
    PlacementRequest,
    StrategyContext,
    TargetWorkload,
    create,
    fragmentation,
    names,
)
from gpufleet.scheduling.placement.fgd_pack import PackingPrices
from gpufleet.scheduling.placement.kernels import node_fragmentation

PUBLISHED = ["random", "dotprod", "gpu-clustering", "gpu-packing", "best-fit", "fgd"]


def req(
    cpu: int = 1000, mem: int = 1024, num: int = 0, milli: int = 0, models: str = ""
) -> PlacementRequest:
    allowed = frozenset(models.split("|")) if models else None
    return PlacementRequest(
        cpu_milli=cpu, memory_mib=mem, num_gpu=num, gpu_milli=milli, gpu_models=allowed
    )


def nodes(*gpus: int, cpu: int = 32000, model: str = "T4") -> list[NodeSpec]:
    return [NodeSpec(f"n{i}", cpu, 131072, g, model) for i, g in enumerate(gpus)]


def context(state_requests: list[PlacementRequest] | None = None) -> StrategyContext:
    target = TargetWorkload.from_requests(
        state_requests or [req(num=1, milli=500), req(num=1, milli=1000)]
    )
    return StrategyContext(seed=1, target=target)


def put(state: ClusterState, pod: PlacementRequest, node: int, gpus: tuple[int, ...]) -> None:
    state.allocate(pod, Placement(node, gpus, pod.gpu_milli))


def test_all_published_strategies_are_registered() -> None:
    assert set(PUBLISHED) <= set(names())
    with pytest.raises(KeyError, match="unknown placement strategy 'nope'"):
        create("nope")


def test_best_fit_prefers_the_fuller_node_and_the_tightest_gpu() -> None:
    state = ClusterState(nodes(4, 4))
    put(state, req(num=1, milli=600), 1, (0,))
    put(state, req(num=1, milli=300), 1, (1,))
    placement = create("best-fit", context()).place(state, req(num=1, milli=300))
    assert placement == Placement(
        node=1, gpus=(0,), gpu_milli=300
    )  # 400 left on GPU 0: tightest fit


def test_gpu_packing_fills_partly_used_gpus_before_idle_nodes() -> None:
    state = ClusterState(nodes(2, 2))
    put(state, req(num=1, milli=200), 1, (1,))
    placement = create("gpu-packing", context()).place(state, req(num=1, milli=500))
    assert placement == Placement(node=1, gpus=(1,), gpu_milli=500)


def test_gpu_clustering_keeps_shapes_together() -> None:
    state = ClusterState(nodes(4, 4, 4))
    put(state, req(num=2, milli=1000), 0, (0, 1))
    put(state, req(num=1, milli=300), 1, (0,))
    strategy = create("gpu-clustering", context())
    assert strategy.place(state, req(num=1, milli=300)).node == 1  # type: ignore[union-attr]
    assert strategy.place(state, req(num=2, milli=1000)).node == 0  # type: ignore[union-attr]


def test_dot_product_prefers_the_node_whose_free_resources_align_least() -> None:
    state = ClusterState(
        [NodeSpec("cpu-heavy", 64000, 131072, 1, "T4"), NodeSpec("lean", 4000, 131072, 1, "T4")]
    )
    placement = create("dotprod", context()).place(state, req(cpu=2000, num=1, milli=1000))
    assert placement is not None
    assert placement.node == 1


def test_ties_go_to_the_node_with_the_lowest_priority() -> None:
    state = ClusterState(nodes(1, 1, 1), priority=[2, 0, 1])
    assert create("best-fit", context()).place(state, req(num=1, milli=1000)).node == 1  # type: ignore[union-attr]


def test_fgd_fills_the_sliver_no_target_request_could_use() -> None:
    # The target workload asks for whole GPUs only. n0 has GPU 0 at 300 milli free (a fragment:
    # no target request fits it) and GPU 1 idle; n1 is idle. Ties would go to n1 (priority 0).
    target_pods = [req(num=1, milli=1000)]
    state = ClusterState(nodes(2, 1), priority=[1, 0])
    put(state, req(num=1, milli=700), 0, (0,))
    strategy = create("fgd", context(target_pods))
    # n0/GPU 0: F 300 -> 0, score floor(100 sigmoid(0.3)) = 57; n0/GPU 1 or n1: F 0 -> 700 or 1000
    # -> fragment grows, score 33.
    assert strategy.place(state, req(num=1, milli=300)) == Placement(
        node=0, gpus=(0,), gpu_milli=300
    )


def test_fgd_balance_sends_cpu_heavy_requests_to_cpu_rich_nodes_on_fgd_ties() -> None:
    # Target: half-GPU requests with 20 cores, so R = 20000 / 500 = 40 CPU milli per GPU milli.
    # Two idle 1-GPU nodes keep enough CPU for that request after any placement below, so FGD
    # scores them alike; its ties go to "poor" (30 cores per GPU < R), priority 0.
    target_pods = [req(cpu=20000, num=1, milli=500)]
    state = ClusterState(
        [NodeSpec("poor", 30000, 131072, 1, "T4"), NodeSpec("rich", 64000, 131072, 1, "T4")],
        priority=[0, 1],
    )
    balance = create("fgd-balance", context(target_pods))
    fgd = create("fgd", context(target_pods))
    heavy = req(cpu=5000, num=1, milli=100)  # 50 CPU milli per GPU milli: above R
    light = req(cpu=200, num=1, milli=500)  # 0.4: below R
    cpu_only = req(cpu=1000)
    for pod in (heavy, light, cpu_only):
        assert fgd.place(state, pod).node == 0  # type: ignore[union-attr]
    assert balance.place(state, heavy).node == 1  # type: ignore[union-attr]
    assert balance.place(state, light).node == 0  # type: ignore[union-attr]
    assert balance.place(state, cpu_only).node == 1  # type: ignore[union-attr]


def test_fgd_pack_prices_fractional_requests_by_the_optimal_packing() -> None:
    # Target: one 650, two 320 and one 470 per four requests. An optimal packing pairs 650 with
    # 320, packs the other 320s three to a GPU and the 470s two to a GPU, so the prices (GPUs per
    # request) are 2/3, 1/3 and 1/2; no other dual solution reaches the LP's optimum.
    target = TargetWorkload.from_requests(
        [req(num=1, milli=650), req(num=1, milli=320), req(num=1, milli=320), req(num=1, milli=470)]
    )
    prices = PackingPrices(target)
    assert prices.price == pytest.approx({320: 1 / 3, 470: 1 / 2, 650: 2 / 3})
    loss = prices.loss(320) / 1e6
    assert loss[350] == 0  # beside a 650: part of an optimal packing
    assert loss[1000] == 0  # a fresh GPU, later filled by a 650 or two more 320s
    assert loss[530] == pytest.approx(1 / 2 - 1 / 3, abs=1e-6)  # beside a 470: strands 210


def test_fgd_pack_opens_a_gpu_rather_than_strand_the_gap_beside_a_470() -> None:
    # As above, plus as many whole-GPU requests: to FGD a fresh GPU's 680 milli left would be a
    # fragment for them, so it puts the 320 beside the 470; the prices say that strands 210 milli.
    target_pods = [req(num=1, milli=m) for m in (650, 320, 320, 470, 1000, 1000, 1000, 1000)]
    state = ClusterState(nodes(2, 2), priority=[1, 0])
    put(state, req(num=1, milli=470), 0, (0,))
    light = req(cpu=1000, num=1, milli=320)
    fgd = create("fgd", context(target_pods)).place(state, light)
    assert fgd == Placement(node=0, gpus=(0,), gpu_milli=320)  # 530 -> 210 milli free
    pack = create("fgd-pack", context(target_pods)).place(state, light)
    assert pack is not None
    assert (pack.node, pack.gpus) != (0, (0,))
    assert state.gpu_free[pack.node, pack.gpus[0]] == 1000


def test_the_workload_cpu_per_gpu_ratio() -> None:
    target = TargetWorkload.from_requests([req(cpu=4000, num=1, milli=500)] * 3 + [req(cpu=8000)])
    assert target.cpu_per_gpu_milli == pytest.approx(8.0)  # CPU-only requests do not count


def test_fgd_needs_a_target_workload() -> None:
    with pytest.raises(ValueError, match="target workload"):
        create("fgd", StrategyContext())


def test_random_is_reproducible_for_a_seed() -> None:
    def run(seed: int) -> list[int]:
        state = ClusterState(nodes(*([8] * 20)))
        strategy = create("random", StrategyContext(seed=seed))
        picks = []
        for _ in range(10):
            p = strategy.place(state, req(num=1, milli=250))
            assert p is not None
            put(state, req(num=1, milli=250), p.node, p.gpus)
            picks.append(p.node)
        return picks

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_target_workload_keeps_the_most_popular_shapes_up_to_the_coverage() -> None:
    pods = (
        [req(num=1, milli=500)] * 60
        + [req(num=1, milli=1000)] * 30
        + [req()] * 6
        + [req(cpu=7)] * 4
    )
    target = TargetWorkload.from_requests(pods, coverage=0.95)
    assert target.size == 3  # 60% + 30% < 95%; the 6% group crosses it and is included
    assert target.popularity.tolist() == pytest.approx([60 / 96, 30 / 96, 6 / 96])
    assert target.gpu_milli.tolist() == [500, 1000, 0]


# --- properties ---------------------------------------------------------------------------------

MODELS = ["T4", "P100", "V100M16"]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[NodeSpec], list[PlacementRequest]]:
    count = draw(st.integers(1, 6))
    specs = [
        NodeSpec(
            f"n{i}",
            draw(st.integers(0, 32)) * 1000,
            draw(st.integers(0, 64)) * 1024,
            draw(st.sampled_from([0, 1, 2, 4, 8])),
            draw(st.sampled_from(MODELS)),
        )
        for i in range(count)
    ]
    pods = []
    for _ in range(draw(st.integers(1, 40))):
        num = draw(st.sampled_from([0, 1, 1, 1, 2, 4, 8]))
        milli = draw(st.integers(1, 1000)) if num == 1 else (1000 if num else 0)
        models = draw(st.sampled_from(["", "T4", "P100|V100M16"])) if num else ""
        pods.append(req(cpu=draw(st.integers(0, 16)) * 500, mem=draw(st.integers(0, 16)) * 1024,
                        num=num, milli=milli, models=models))  # fmt: skip
    return specs, pods


@pytest.mark.parametrize("policy", PUBLISHED + [n for n in names() if n not in PUBLISHED])
@settings(max_examples=40, deadline=None)
@given(scenario=scenarios())
def test_no_strategy_oversubscribes_or_breaks_gpu_spec(
    policy: str, scenario: tuple[list[NodeSpec], list[PlacementRequest]]
) -> None:
    specs, pods = scenario
    state = ClusterState(specs)
    strategy = create(policy, context(pods))
    for pod in pods:
        feasible = state.feasible(pod)
        placement = strategy.place(state, pod)
        assert (placement is None) == (not feasible.any())  # never gives up while a node fits
        if placement is None:
            continue
        node = placement.node
        assert feasible[node]
        assert len(set(placement.gpus)) == pod.num_gpu
        for gpu in placement.gpus:
            assert state.gpu_free[node, gpu] >= pod.gpu_milli
        if pod.gpu_models is not None:
            assert state.models[state.model[node]] in pod.gpu_models
        state.allocate(pod, placement)
        assert (state.cpu_free >= 0).all()
        assert (state.memory_free >= 0).all()
        assert (state.gpu_free[state.gpu_present] >= 0).all()
        assert (state.gpu_free[~state.gpu_present] == -1).all()


@settings(max_examples=60, deadline=None)
@given(scenario=scenarios(), data=st.data())
def test_compiled_fragmentation_matches_the_numpy_reference(
    scenario: tuple[list[NodeSpec], list[PlacementRequest]], data: st.DataObject
) -> None:
    specs, pods = scenario
    state = ClusterState(specs)
    target = TargetWorkload.from_requests(pods)
    for pod in pods:  # put the cluster in some used state
        placement = create("random", StrategyContext(seed=data.draw(st.integers(0, 9)))).place(
            state, pod
        )
        if placement is not None:
            state.allocate(pod, placement)
    allowed = target.allowed(state.models, state.model)
    reference = fragmentation(target, state.gpu_free, state.cpu_free, allowed)
    for n in range(state.size):
        compiled = node_fragmentation(
            state.gpu_free[n], int(state.cpu_free[n]), n, allowed,
            target.gpu_milli, target.num_gpu, target.cpu_milli, target.popularity,
        )  # fmt: skip
        assert compiled == pytest.approx(reference[n], abs=1e-6)
    assert np.all(reference >= 0)
    assert np.all(reference <= state.total_gpu_free() + 1e-9)
