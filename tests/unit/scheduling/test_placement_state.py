from __future__ import annotations

import numpy as np
import pytest

from gpufleet.scheduling.placement import ClusterState, NodeSpec, Placement, PlacementRequest


def cluster() -> ClusterState:
    return ClusterState(
        [
            NodeSpec("a", cpu_milli=8000, memory_mib=32768, gpus=2, model="V100M16"),
            NodeSpec("b", cpu_milli=16000, memory_mib=65536, gpus=4, model="T4"),
            NodeSpec("c", cpu_milli=4000, memory_mib=8192, gpus=0, model=""),
        ]
    )


def test_absent_gpus_are_marked_and_capacity_counts_real_ones() -> None:
    state = cluster()
    assert state.max_gpus == 4
    assert state.gpu_free.tolist()[0] == [1000, 1000, -1, -1]
    assert state.gpu_capacity_milli == 6000
    assert state.allocated_gpu_milli() == 0


def gpu_req(
    num: int, milli: int, mem: int = 1024, models: frozenset[str] | None = None
) -> PlacementRequest:
    return PlacementRequest(
        cpu_milli=1000, memory_mib=mem, num_gpu=num, gpu_milli=milli, gpu_models=models
    )


@pytest.mark.parametrize(
    ("request_", "feasible"),
    [
        (PlacementRequest(cpu_milli=1000, memory_mib=1024), [True, True, True]),
        (PlacementRequest(cpu_milli=5000, memory_mib=1024), [True, True, False]),
        (gpu_req(1, 500), [True, True, False]),
        (gpu_req(4, 1000), [False, True, False]),
        (gpu_req(1, 500, models=frozenset({"V100M16", "V100M32"})), [True, False, False]),
        (gpu_req(1, 500, mem=40000), [False, True, False]),
    ],
)  # fmt: skip
def test_feasibility(request_: PlacementRequest, feasible: list[bool]) -> None:
    assert cluster().feasible(request_).tolist() == feasible


def test_allocate_updates_every_resource_and_the_version() -> None:
    state = cluster()
    pod = PlacementRequest(cpu_milli=2000, memory_mib=4096, num_gpu=1, gpu_milli=300)
    state.allocate(pod, Placement(node=1, gpus=(2,), gpu_milli=300))
    assert state.cpu_free[1] == 14000
    assert state.memory_free[1] == 65536 - 4096
    assert state.gpu_free[1].tolist() == [1000, 1000, 700, 1000]
    assert state.pod_shapes[1, 0] == 1
    assert state.version.tolist() == [0, 1, 0]
    assert state.allocated_gpu_milli() == 300


@pytest.mark.parametrize(
    ("placement", "message"),
    [
        (Placement(node=0, gpus=(0, 0), gpu_milli=1000), "names a GPU twice"),
        (Placement(node=0, gpus=(2,), gpu_milli=1000), "GPU 2 of node a"),
        (Placement(node=2, gpus=(0,), gpu_milli=1000), "GPU 0 of node c"),
    ],
)
def test_allocate_refuses_what_does_not_fit_and_changes_nothing(
    placement: Placement, message: str
) -> None:
    state = cluster()
    before = state.gpu_free.copy()
    num = 2 if len(placement.gpus) == 2 else 1
    pod = PlacementRequest(cpu_milli=100, memory_mib=100, num_gpu=num, gpu_milli=1000)
    with pytest.raises(ValueError, match=message):
        state.allocate(pod, placement)
    assert np.array_equal(state.gpu_free, before)
    assert state.version.sum() == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"num_gpu": 2, "gpu_milli": 500}, "whole GPUs"),
        ({"num_gpu": 1, "gpu_milli": 0}, "gpu_milli must be in 1..1000"),
        ({"num_gpu": 0, "gpu_milli": 200}, "must be 0 when num_gpu is 0"),
        ({"gpu_models": frozenset()}, "non-empty"),
        ({"cpu_milli": -1}, ">= 0"),
    ],
)
def test_invalid_requests(fields: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"cpu_milli": 1000, "memory_mib": 1024, **fields}
    with pytest.raises(ValueError, match=message):
        PlacementRequest(**args)  # type: ignore[arg-type]


def test_priority_must_be_a_permutation() -> None:
    with pytest.raises(ValueError, match="permutation"):
        ClusterState([NodeSpec("a", 1, 1, 1, "T4"), NodeSpec("b", 1, 1, 1, "T4")], priority=[0, 0])


def test_allocate_refuses_a_node_outside_the_cluster_and_names_duplicates() -> None:
    state = cluster()
    pod = PlacementRequest(cpu_milli=100, memory_mib=100, num_gpu=1, gpu_milli=500)
    with pytest.raises(ValueError, match=r"names node -1; the cluster has nodes 0..2"):
        state.allocate(pod, Placement(node=-1, gpus=(0,), gpu_milli=500))
    two = PlacementRequest(cpu_milli=100, memory_mib=100, num_gpu=2, gpu_milli=1000)
    with pytest.raises(ValueError, match=r"names a GPU twice: \(0, 0\)"):
        state.allocate(two, Placement(node=1, gpus=(0, 0), gpu_milli=1000))
    big = PlacementRequest(cpu_milli=9000, memory_mib=100, num_gpu=1, gpu_milli=500)
    with pytest.raises(ValueError, match="has 8000 CPU milli and 32768 MiB free"):
        state.allocate(big, Placement(node=0, gpus=(0,), gpu_milli=500))
    assert state.version.sum() == 0
