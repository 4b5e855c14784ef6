from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet.sim.traces.openb import WORKLOADS, TraceError, load_workload, read_pods

from factories import FIXTURES

OPENB = FIXTURES / "openb"


def test_reads_nodes_and_pods_sorted_by_name() -> None:
    workload = load_workload(OPENB, "default")
    assert [n.name for n in workload.nodes] == [f"node-{i:02d}" for i in range(20)]
    assert (workload.nodes[0].gpus, workload.nodes[0].model) == (8, "G2")
    names = [p.name for p in workload.pods]
    assert names == sorted(names)
    assert len(names) == 60
    spec = [p for p in workload.pods if p.gpu_models]
    assert spec
    assert all(p.gpu_models == frozenset({"V100M16", "V100M32"}) for p in spec)
    assert all(p.gpu_milli == 1000 for p in workload.pods if p.num_gpu > 1)


def test_bad_values_name_file_line_and_column() -> None:
    with pytest.raises(
        TraceError, match=r"openb_pod_list_cpu050.csv:2: \[gpu_milli\] not a whole number"
    ):
        load_workload(OPENB, "cpu050")


def test_unknown_workload_and_missing_columns(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="unknown openb workload 'nope'"):
        load_workload(OPENB, "nope")
    path = tmp_path / "p.csv"
    path.write_text("name,cpu_milli\nx,1\n")
    with pytest.raises(TraceError, match="missing column"):
        read_pods(path)


def test_the_paper_evaluated_17_workloads() -> None:
    assert len(WORKLOADS) == 17


@pytest.mark.shared_data
def test_the_real_default_workload(shared_data: Path) -> None:
    workload = load_workload(shared_data / "traces" / "openb", "default")
    assert len(workload.nodes) == 1213
    assert sum(n.gpus for n in workload.nodes) == 6212
    assert len(workload.pods) == 8152
    assert sum(p.total_gpu_milli for p in workload.pods) == 6_086_800
