from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gpufleet.catalog.gpus import GpuTable
from gpufleet.planning.spot import (
    SpotEstimate,
    count_preemptions,
    estimate_from_ticks,
    pool_estimates,
    useful_fraction,
)
from gpufleet.sim.traces.spot import (
    SpotTraceError,
    SpotTraceKind,
    estimates,
    find_spot_dir,
    pool_by_gpu,
    pool_by_instance_type,
    read_spot_traces,
)


def _estimate(counts: list[int], gap_seconds: float, nodes: int = 1) -> SpotEstimate:
    return estimate_from_ticks(
        np.array(counts),
        gap_seconds=gap_seconds,
        cloud="aws",
        gpu="V100-16GB",
        instance_type="p3.2xlarge",
        nodes=nodes,
    )


def _made(availability: float, rate: float, hours: float, **extra: Any) -> SpotEstimate:
    fields: dict[str, Any] = {"cloud": "aws", "gpu": "V100-16GB", "instance_type": "a"}
    fields.update(extra)
    return SpotEstimate(
        availability=availability,
        preemptions_per_hour=rate,
        observed_hours=hours,
        traces=1,
        **fields,
    )


# ---------------------------------------------------------------- one trace, by hand


def test_single_node_availability_preemptions_and_uptime() -> None:
    # 10 ticks of 0.1 h: 7 up (0.7 h of uptime), up->down at ticks 2 and 6.
    estimate = _estimate([1, 1, 0, 1, 1, 1, 0, 0, 1, 1], gap_seconds=360)
    assert estimate.observed_hours == pytest.approx(1.0)
    assert estimate.availability == pytest.approx(0.7)
    assert estimate.uptime_hours == pytest.approx(0.7)
    assert estimate.preemptions == pytest.approx(2)
    assert estimate.preemptions_per_hour == pytest.approx(2 / 0.7)
    assert estimate.mean_uptime_hours == pytest.approx(0.35)
    assert estimate.mean_node_fraction is None
    assert estimate.node_fraction == estimate.availability
    assert estimate.traces == 1


def test_multi_node_needs_all_nodes_and_reports_the_mean_node_fraction() -> None:
    # 4 nodes wanted, ticks of 0.5 h: up at ticks 0, 1, 3, 5; losses at ticks 2 and 4.
    estimate = _estimate([4, 4, 3, 4, 0, 4], gap_seconds=1800, nodes=4)
    assert estimate.availability == pytest.approx(4 / 6)
    assert estimate.mean_node_fraction == pytest.approx((1 + 1 + 0.75 + 1 + 0 + 1) / 6)
    assert estimate.uptime_hours == pytest.approx(2.0)
    assert estimate.preemptions_per_hour == pytest.approx(1.0)  # 2 preemptions in 2 h up
    assert estimate.mean_uptime_hours == pytest.approx(1.0)


def test_a_node_lost_while_already_down_is_not_a_second_preemption() -> None:
    assert _estimate([4, 3, 2, 4], gap_seconds=3600, nodes=4).preemptions == pytest.approx(1)
    assert count_preemptions([True, False, False, True, True, False]) == 2
    assert count_preemptions([False]) == 0


def test_counts_above_the_nodes_wanted_count_as_all_nodes() -> None:
    estimate = _estimate([5, 2], gap_seconds=60, nodes=4)
    assert estimate.availability == pytest.approx(0.5)
    assert estimate.mean_node_fraction == pytest.approx((1 + 0.5) / 2)


def test_no_preemption_seen_and_never_up() -> None:
    always = _estimate([1, 1, 1], gap_seconds=60)
    assert (always.availability, always.preemptions_per_hour) == (1.0, 0.0)
    assert always.mean_uptime_hours == math.inf
    never = _estimate([0, 0], gap_seconds=60)
    assert (never.availability, never.preemptions_per_hour, never.mean_uptime_hours) == (0, 0, 0)


@pytest.mark.parametrize(
    ("counts", "gap_seconds", "message"),
    [
        ([1, -1], 60, "counts must be finite and >= 0"),
        ([], 60, "non-empty"),
        ([1, 0], 0, "gap_seconds must be > 0"),
    ],
)
def test_bad_ticks_are_rejected(counts: list[int], gap_seconds: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _estimate(counts, gap_seconds)


def test_an_estimate_checks_its_ranges() -> None:
    with pytest.raises(ValueError, match=r"availability 1.5 not in \[0, 1\]"):
        _made(1.5, 0.0, 1.0)
    with pytest.raises(ValueError, match="mean_node_fraction is required"):
        _made(0.5, 0.0, 1.0, nodes=4)


# ---------------------------------------------------------------- pooling


def test_pooling_weights_availability_by_hours_and_the_rate_by_uptime() -> None:
    # 10 h at A=0.5 (5 h up, 2 preemptions) and 30 h at A=1 (30 h up, 3 preemptions).
    pooled = pool_estimates([_made(0.5, 0.4, 10.0), _made(1.0, 0.1, 30.0)])
    assert pooled.observed_hours == pytest.approx(40.0)
    assert pooled.availability == pytest.approx(35 / 40)
    assert pooled.preemptions_per_hour == pytest.approx(5 / 35)  # not (0.4*10 + 0.1*30) / 40
    assert pooled.mean_uptime_hours == pytest.approx(7.0)
    assert pooled.traces == 2
    assert pooled.instance_type == "a"


def test_pooling_multi_node_fractions_and_mixed_instance_types() -> None:
    pooled = pool_estimates(
        [
            _made(0.5, 0.0, 10.0, nodes=4, mean_node_fraction=0.6),
            _made(0.8, 0.0, 30.0, nodes=4, mean_node_fraction=0.9, instance_type="b"),
        ]
    )
    assert pooled.mean_node_fraction == pytest.approx((6 + 27) / 40)
    assert pooled.instance_type is None
    assert pooled.mean_uptime_hours == math.inf


def test_pooling_two_traces_equals_one_trace_of_both_when_the_first_ends_down() -> None:
    first, second = [1, 1, 0, 1, 0], [1, 0, 0, 1, 1, 1, 0, 1]
    pooled = pool_estimates([_estimate(first, 120), _estimate(second, 120)])
    joined = _estimate(first + second, 120)
    assert pooled.availability == pytest.approx(joined.availability)
    assert pooled.preemptions_per_hour == pytest.approx(joined.preemptions_per_hour)
    assert pooled.observed_hours == pytest.approx(joined.observed_hours)


def test_pooling_refuses_different_clouds_gpus_or_node_counts() -> None:
    with pytest.raises(ValueError, match="can only pool one cloud"):
        pool_estimates([_made(0.5, 0.1, 1.0), _made(0.5, 0.1, 1.0, cloud="gcp")])
    with pytest.raises(ValueError, match="can only pool one cloud"):
        pool_estimates([_made(0.5, 0.1, 1.0), _made(0.5, 0.1, 1.0, nodes=4, mean_node_fraction=1)])
    with pytest.raises(ValueError, match="no estimates"):
        pool_estimates([])


# ---------------------------------------------------------------- useful fraction


def test_useful_fraction_charges_each_preemption_its_restart() -> None:
    estimate = _made(0.8, 0.5, 100.0)
    assert useful_fraction(estimate, 0.4) == pytest.approx(0.8 * (1 - 0.5 * 0.4))
    assert useful_fraction(estimate, 0.0) == pytest.approx(0.8)
    assert useful_fraction(estimate, 3.0) == 0.0  # restarts eat all the uptime
    with pytest.raises(ValueError, match="restart_overhead_hours"):
        useful_fraction(estimate, -1.0)


# ---------------------------------------------------------------- the reader


def _write(root: Path, relative: str, document: object) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    text = document if isinstance(document, str) else json.dumps(document)
    path.write_text(text)
    return path


def _trace(data: object, gap: object = 900) -> dict[str, object]:
    return {"metadata": {"gap_seconds": gap}, "data": data}


def test_reads_kind_nodes_cloud_instance_and_gpu_from_the_layout(
    tmp_path: Path, table: GpuTable
) -> None:
    _write(
        tmp_path, "availability/1-node/aws-01-02-2023/us-west-2a_v100_1.json", _trace([1, 0, 1, 1])
    )
    _write(
        tmp_path, "preemption/4-node/aws-01-02-2023/us-east-1f_v100_1.json", _trace([4, 3, 4, 4])
    )
    _write(tmp_path, "preemption/1-node/gcp-04-30-2023/us-east1-b_c3-88.json", _trace([0, 1]))
    _write(tmp_path, "README.md", "not a trace")
    traces = read_spot_traces(tmp_path, table)
    assert [(t.kind, t.nodes, t.cloud, t.zone) for t in traces] == [
        (SpotTraceKind.AVAILABILITY, 1, "aws", "us-west-2a"),
        (SpotTraceKind.PREEMPTION, 1, "gcp", "us-east1-b"),
        (SpotTraceKind.PREEMPTION, 4, "aws", "us-east-1f"),
    ]
    first = traces[0]
    assert (first.instance_type, first.gpu, first.gap_seconds) == ("p3.2xlarge", "V100-16GB", 900)
    estimate = first.estimate()
    assert (estimate.availability, estimate.observed_hours) == (0.75, 1.0)
    assert estimate.preemptions_per_hour == pytest.approx(1 / 0.75)
    assert traces[1].gpu is None
    assert traces[1].instance_type == "c3-highcpu-88"
    keys = [(e.cloud, e.gpu, e.nodes) for e in pool_by_gpu(traces)]
    assert keys == [("aws", "V100-16GB", 1), ("aws", "V100-16GB", 4), ("gcp", None, 1)]
    assert len(pool_by_instance_type(traces)) == 3


@pytest.mark.parametrize(
    ("relative", "content", "message"),
    [
        ("availability/1-node/aws-01-02-2023/us-west-2a_v100_1.json", "{nope", "not valid JSON"),
        ("availability/1-node/aws-01-02-2023/us-west-2a_v100_1.json", [1, 0], "JSON object"),
        (
            "availability/1-node/aws-01-02-2023/us-west-2a_v100_1.json",
            {"data": [1, 0]},
            "metadata.gap_seconds must be a number > 0, got None",
        ),
        (
            "availability/1-node/aws-01-02-2023/us-west-2a_v100_1.json",
            _trace([1, 0], gap=-5),
            "metadata.gap_seconds must be a number > 0, got -5",
        ),
        (
            "availability/1-node/aws-01-02-2023/us-west-2a_v100_1.json",
            _trace([]),
            "'data' must be a non-empty list",
        ),
        (
            "availability/1-node/aws-01-02-2023/us-west-2a_v100_1.json",
            _trace([1, "x"]),
            r"data\[1\] = 'x', expected a whole number in 0..1",
        ),
        (
            "preemption/4-node/aws-01-02-2023/us-west-2a_v100_1.json",
            _trace([4, 5]),
            r"data\[1\] = 5, expected a whole number in 0..4",
        ),
        (
            "availability/1-node/aws-01-02-2023/us-west-2a_a100_1.json",
            _trace([1]),
            "unknown instance 'a100_1' for aws",
        ),
        ("availability/aws-01-02-2023/us-west-2a_v100_1.json", _trace([1]), "not at <kind>"),
        ("outage/1-node/aws-01-02-2023/us-west-2a_v100_1.json", _trace([1]), "not at <kind>"),
    ],
)
def test_malformed_files_name_the_file_and_the_fault(
    tmp_path: Path, table: GpuTable, relative: str, content: object, message: str
) -> None:
    path = _write(tmp_path, relative, content)
    with pytest.raises(SpotTraceError, match=message) as raised:
        read_spot_traces(tmp_path, table)
    assert str(path) in str(raised.value)


def test_an_empty_or_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SpotTraceError, match="holds no"):
        read_spot_traces(tmp_path)
    with pytest.raises(SpotTraceError, match="not a folder"):
        read_spot_traces(tmp_path / "absent")


def test_the_spot_folder_is_found_through_the_shared_data(tmp_path: Path) -> None:
    env = {"GPUFLEET_DATA": str(tmp_path)}
    assert find_spot_dir(env, tmp_path) is None
    (tmp_path / "spot").mkdir()
    assert find_spot_dir(env, tmp_path) == tmp_path / "spot"


@pytest.mark.shared_data
def test_the_real_traces(shared_data: Path, table: GpuTable) -> None:
    root = shared_data / "spot"
    if not root.is_dir():
        pytest.skip(f"no spot traces at {root}")
    traces = read_spot_traces(root, table)
    assert {t.kind for t in traces} == set(SpotTraceKind)
    assert {t.nodes for t in traces} == {1, 4, 16}
    pooled = pool_by_gpu(traces)
    for estimate in (*estimates(traces), *pooled):
        assert 0 <= estimate.availability <= 1
        assert estimate.preemptions_per_hour >= 0
        assert estimate.observed_hours > 0
        assert 0 <= useful_fraction(estimate, 0.25) <= estimate.availability
    v100 = {e.nodes: e for e in pooled if (e.cloud, e.gpu) == ("aws", "V100-16GB")}
    assert set(v100) == {1, 4, 16}
    assert 0 < v100[1].availability < 1
    assert v100[1].preemptions_per_hour > 0
    assert v100[16].mean_node_fraction is not None
    assert v100[16].mean_node_fraction >= v100[16].availability
