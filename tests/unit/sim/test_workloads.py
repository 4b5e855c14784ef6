"""Workload builders, the throughput extrapolation rule, the generator and trace names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gpufleet.sim.trace_specs import parse_cluster, parse_trace
from gpufleet.sim.traces.gavel import ThroughputTable, read_throughputs
from gpufleet.sim.workloads import (
    CONTINUOUS_CLUSTER,
    CPU_ONLY,
    EXTRAPOLATED,
    FRACTIONAL,
    NO_DELETION,
    NO_MODEL,
    PHILLY_CLUSTER,
    PHILLY_SCALE_FACTORS,
    ZERO_DURATION,
    BuildReport,
    WorkloadError,
    gavel_generated,
    gavel_throughputs,
    gavel_vc,
    openb_timed,
    poisson,
)

# (job type, scale) -> V100 steps/s; P100 is half of it and K80 a quarter.
RATES = {
    ("ResNet-18", 1): 8.0,
    ("ResNet-18", 2): 12.0,
    ("ResNet-18", 4): 20.0,
    ("ResNet-18", 8): 32.0,
    ("A3C", 1): 4.0,
}


def table_json() -> dict[str, dict[str, dict[str, float]]]:
    return {
        gpu: {f"{(job, scale)!r}": {"null": rate * factor} for (job, scale), rate in RATES.items()}
        for gpu, factor in (("v100", 1.0), ("p100", 0.5), ("k80", 0.25))
    }


@pytest.fixture
def table(tmp_path: Path) -> ThroughputTable:
    path = tmp_path / "throughputs.json"
    path.write_text(json.dumps(table_json()), encoding="utf-8")
    return read_throughputs(path)


def vc_line(job_type: str, steps: int, arrival: float, scale: int) -> str:
    return f"{job_type}\tpython train.py\t-s\t1\t{steps}\t{arrival}\t{scale}\n"


def test_the_extrapolation_rule_scales_the_largest_smaller_measured_gang(
    table: ThroughputTable,
) -> None:
    report = BuildReport()
    types = ["ResNet-18", "ResNet-18", "ResNet-18", "A3C", "A3C"]
    rates = gavel_throughputs(types, [2, 3, 16, 1, 8], table, report=report)
    assert rates[0].tolist() == [12.0, 6.0, 3.0]  # measured
    assert rates[1].tolist() == [18.0, 9.0, 4.5]  # from scale 2: 12 * 3 / 2
    assert rates[2].tolist() == [64.0, 32.0, 16.0]  # from scale 8: 32 * 16 / 8
    assert rates[3].tolist() == [4.0, 2.0, 1.0]
    assert rates[4].tolist() == [32.0, 16.0, 8.0]  # A3C is measured at 1 only: 4 * 8
    assert report.adjusted == {EXTRAPOLATED: 3}
    with pytest.raises(WorkloadError, match=r"no throughput for 'LM' at scale 2"):
        gavel_throughputs(["LM"], [2], table)


def test_a_generated_job_list(tmp_path: Path, table: ThroughputTable) -> None:
    path = tmp_path / "jobs.tsv"
    path.write_text(
        "job_id\tjob_type\tscale_factor\ttotal_steps\tarrival_time_s\n"
        "0\tResNet-18\t1\t800\t0.0\n"
        "1\tA3C\t1\t40\t12.5\n",
        encoding="utf-8",
    )
    workload = gavel_generated(path, table)
    assert workload.job_id.tolist() == [0, 1]
    assert workload.job_type == ("ResNet-18", "A3C")
    assert workload.gpus.tolist() == [1, 1]
    assert workload.throughput.tolist() == [[8.0, 4.0, 2.0], [4.0, 2.0, 1.0]]
    assert workload.total_steps.tolist() == [800.0, 40.0]
    assert workload.arrival_s.tolist() == [0.0, 12.5]
    assert workload.projects == ("default",)


def test_vc_traces_merge_in_arrival_order_ties_by_file_then_line(
    tmp_path: Path, table: ThroughputTable
) -> None:
    seed = tmp_path / "seed=0"
    seed.mkdir()
    (seed / "b.trace").write_text(
        vc_line("A3C", 10, 0, 1) + vc_line("A3C", 11, 3, 1) + vc_line("ResNet-18", 12, 5, 16),
        encoding="utf-8",
    )
    (seed / "a.trace").write_text(
        vc_line("ResNet-18", 20, 0, 1) + vc_line("ResNet-18", 21, 5, 2), encoding="utf-8"
    )
    report = BuildReport()
    workload = gavel_vc(seed, table, report=report)
    assert workload.projects == ("a", "b")
    assert workload.total_steps.tolist() == [20, 10, 11, 21, 12]
    assert workload.arrival_s.tolist() == [0, 0, 3, 5, 5]
    assert workload.project is not None
    assert workload.project.tolist() == [0, 1, 1, 0, 1]
    assert workload.job_id.tolist() == [0, 1, 2, 3, 4]
    assert workload.gpus.tolist() == [1, 1, 1, 2, 16]
    assert workload.throughput[4].tolist() == [64.0, 32.0, 16.0]  # 32 * 16 / 8
    assert report.jobs == 5
    assert report.adjusted == {EXTRAPOLATED: 1}
    with pytest.raises(WorkloadError, match=r"no \*.trace files"):
        gavel_vc(tmp_path, table)


NODES = (
    "sn,cpu_milli,memory_mib,gpu,model\n"
    "n0,64000,262144,4,P100\n"
    "n1,64000,262144,2,T4\n"
    "n2,32000,65536,0,\n"
)
PODS = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
    "deletion_time,scheduled_time\n"
    "p0,4000,1024,0,0,,BE,Running,0,50,0\n"  # CPU only
    "p1,4000,1024,1,500,,BE,Running,10,70,10\n"  # half a GPU: runs on one
    "p2,4000,1024,1,1000,T4,LS,Running,5,105,5\n"
    "p3,4000,1024,4,1000,T4,LS,Running,6,60,6\n"  # 4 GPUs but only 2 T4 in the cluster
    "p4,4000,1024,2,1000,,LS,Running,7,,7\n"  # never deleted
    "p5,4000,1024,1,1000,,LS,Failed,8,8,\n"  # zero duration
    "p6,4000,1024,4,1000,,LS,Running,10,20,10\n"  # too big for T4: P100 only
)


@pytest.fixture
def openb_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "openb"
    folder.mkdir()
    (folder / "openb_node_list_gpu_node.csv").write_text(NODES, encoding="utf-8")
    (folder / "openb_pod_list_default.csv").write_text(PODS, encoding="utf-8")
    multigpu = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,1024,1,1000\n"
    (folder / "openb_pod_list_multigpu20.csv").write_text(multigpu, encoding="utf-8")
    return folder


def test_openb_pods_as_timed_jobs(openb_dir: Path) -> None:
    report = BuildReport()
    workload = openb_timed(openb_dir, "default", report=report)
    assert workload.job_type == ("p2", "p1", "p6")  # by creation time, ties in file order
    assert workload.arrival_s.tolist() == [5, 10, 10]
    assert workload.total_steps.tolist() == [100, 60, 10]
    assert workload.gpus.tolist() == [1, 1, 4]
    assert workload.throughput.tolist() == [[0, 1], [1, 1], [1, 0]]  # columns P100, T4
    assert workload.projects == ("BE", "LS")
    assert workload.project is not None
    assert workload.project.tolist() == [1, 0, 1]
    assert report.jobs == 3
    assert report.skipped == {CPU_ONLY: 1, NO_MODEL: 1, NO_DELETION: 1, ZERO_DURATION: 1}
    assert report.adjusted == {FRACTIONAL: 1}


def test_openb_refuses_untimed_and_unknown_workloads(openb_dir: Path) -> None:
    with pytest.raises(WorkloadError, match=r"missing column.*creation_time.*needs pod creation"):
        openb_timed(openb_dir, "multigpu20")
    with pytest.raises(WorkloadError, match="unknown openb workload 'nope'; known: default"):
        openb_timed(openb_dir, "nope")


def test_the_generator_is_deterministic(table: ThroughputTable) -> None:
    one = poisson(3.0, 200, table, seed=7, scale_factors=PHILLY_SCALE_FACTORS)
    two = poisson(3.0, 200, table, seed=7, scale_factors=PHILLY_SCALE_FACTORS)
    other = poisson(3.0, 200, table, seed=8, scale_factors=PHILLY_SCALE_FACTORS)
    for name in ("gpus", "throughput", "total_steps", "arrival_s"):
        assert np.array_equal(getattr(one, name), getattr(two, name))
    assert one.job_type == two.job_type
    assert not np.array_equal(one.arrival_s, other.arrival_s)


def test_generated_durations_follow_gavels_philly_distribution(table: ThroughputTable) -> None:
    jobs = 20_000
    workload = poisson(2.0, jobs, table, seed=1)
    duration = workload.total_steps / workload.throughput[:, 0]  # alone on V100
    assert duration.min() >= 60 * 10**1.5
    assert duration.max() <= 60 * 10**4
    assert abs((duration < 60 * 10**3).mean() - 0.8) < 0.015  # 10**x minutes, x < 3 w.p. 0.8
    assert workload.arrival_s[0] == 0.0
    assert abs(np.diff(workload.arrival_s).mean() - 1800.0) < 60.0  # 2 jobs/h
    assert set(workload.job_type) == {"ResNet-18", "A3C"}  # the scale-1 types, uniformly
    assert abs(workload.job_type.count("A3C") / jobs - 0.5) < 0.02
    assert workload.gpus.tolist() == [1] * jobs


def test_multi_gpu_jobs_draw_from_types_measured_at_their_scale(table: ThroughputTable) -> None:
    workload = poisson(2.0, 4000, table, seed=3, scale_factors={1: 0.5, 2: 0.25, 8: 0.25})
    big = workload.gpus > 1
    assert {workload.job_type[i] for i in np.flatnonzero(big)} == {"ResNet-18"}
    assert abs(big.mean() - 0.5) < 0.03
    with pytest.raises(WorkloadError, match="no job type in the table is measured at scale 16"):
        poisson(2.0, 100, table, seed=3, scale_factors={16: 1.0})
    with pytest.raises(WorkloadError, match="summing to 1"):
        poisson(2.0, 100, table, seed=3, scale_factors={1: 0.5})
    with pytest.raises(WorkloadError, match="rate_per_h > 0"):
        poisson(0.0, 100, table, seed=3)


def test_parse_cluster() -> None:
    assert parse_cluster("36xV100,36xP100,36xK80") == (("v100", "p100", "k80"), (36, 36, 36))
    assert parse_cluster(" 4 x A100 , 2X h100 ") == (("a100", "h100"), (4, 2))
    for text, message in (
        ("", "empty cluster"),
        ("36V100", r"cluster item '36V100': expected COUNTxTYPE"),
        ("0xV100", "at least 1 GPU"),
        ("1xV100,2xv100", "names v100 twice"),
    ):
        with pytest.raises(WorkloadError, match=message):
            parse_cluster(text)


@pytest.fixture
def data_dir(tmp_path: Path, openb_dir: Path) -> Path:
    data = tmp_path / "data"
    gavel = data / "traces" / "gavel"
    (gavel / "seed=0").mkdir(parents=True)
    (gavel / "generated").mkdir()
    (gavel / "simulation_throughputs.json").write_text(json.dumps(table_json()), "utf-8")
    (gavel / "seed=0" / "vc.trace").write_text(vc_line("A3C", 10, 0, 1), "utf-8")
    (gavel / "generated" / "continuous_single_seed0_2.8jobs_per_h.tsv").write_text(
        "job_id\tjob_type\tscale_factor\ttotal_steps\tarrival_time_s\n0\tA3C\t1\t40\t0.0\n",
        "utf-8",
    )
    openb_dir.rename(data / "traces" / "openb")
    return data


def test_parse_trace_names_a_workload_and_its_cluster(data_dir: Path) -> None:
    vc = parse_trace("gavel:seed=0", data_dir=data_dir)
    assert (len(vc.workload), vc.capacity, vc.gpu_types) == (
        1,
        PHILLY_CLUSTER,
        ("v100", "p100", "k80"),
    )
    continuous = parse_trace("gavel:continuous:rate=2.8", data_dir=data_dir)
    assert (len(continuous.workload), continuous.capacity) == (1, CONTINUOUS_CLUSTER)
    assert continuous.measure == ()  # fewer than 5,000 jobs: nothing to measure by id
    openb = parse_trace("openb:default", data_dir=data_dir)
    assert (openb.gpu_types, openb.capacity, len(openb.workload)) == (("P100", "T4"), (4, 2), 3)
    generated = parse_trace("poisson:rate=3,jobs=50,seed=2,multigpu=philly", data_dir=data_dir)
    assert len(generated.workload) == 50
    assert generated.capacity == CONTINUOUS_CLUSTER
    moved = vc.on_cluster(*parse_cluster("8xK80,4xV100"))
    assert moved.gpu_types == ("k80", "v100")
    assert moved.capacity == (8, 4)
    assert moved.workload.throughput.tolist() == [[1.0, 4.0]]
    with pytest.raises(WorkloadError, match=r"cluster type\(s\) a100 not in trace"):
        vc.on_cluster(("a100",), (1,))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("slurm:x", "unknown trace 'slurm:x'; valid forms: gavel:seed=N; gavel:continuous"),
        ("gavel", "valid forms"),
        ("gavel:seed=5", r"no folder .*seed=5; have seed=0"),
        ("gavel:sead=0", "bad option 'sead=0'; options: seed"),
        ("gavel:continuous:rate=9", "no generated job list at rate 9; have 2.8"),
        ("poisson:rate=3", "needs jobs="),
        ("poisson:rate=fast,jobs=3", "rate='fast' is not a number"),
        ("poisson:rate=3,jobs=3,multigpu=all", "multigpu must be none or philly"),
        ("openb:cpu999", "unknown openb workload 'cpu999'"),
    ],
)
def test_parse_trace_errors(data_dir: Path, spec: str, message: str) -> None:
    with pytest.raises(WorkloadError, match=message):
        parse_trace(spec, data_dir=data_dir)


@pytest.mark.shared_data
def test_gavel_seed_0_on_the_real_data(shared_data: Path) -> None:
    trace = parse_trace("gavel:seed=0", data_dir=shared_data)
    assert len(trace.workload) == 15_264
    assert len(trace.workload.projects) == 15
    assert trace.report.adjusted[EXTRAPOLATED] == 1_548
    assert (np.diff(trace.workload.arrival_s) >= 0).all()
    assert (trace.workload.throughput.max(axis=1) > 0).all()  # 0: cannot run on that type


@pytest.mark.shared_data
def test_openb_default_and_continuous_single_on_the_real_data(shared_data: Path) -> None:
    openb = parse_trace("openb:default", data_dir=shared_data)
    assert len(openb.workload) == 7_063
    assert sum(openb.capacity) == 6_212
    assert openb.report.skipped[CPU_ONLY] == 1_088
    continuous = parse_trace("gavel:continuous:rate=2.8", data_dir=shared_data)
    assert continuous.measure == tuple(range(4000, 5000))
    assert continuous.workload.job_id.tolist() == list(range(len(continuous.workload)))


def test_poisson_failures_are_seeded_and_at_the_given_rate() -> None:
    from gpufleet.sim.workloads import poisson_failures

    days = 1000.0
    failures = poisson_failures([10, 0], per_gpu_day=0.1, repair_s=3600.0, until_s=days * 86_400,
                                seed=3)  # fmt: skip
    assert failures == poisson_failures([10, 0], per_gpu_day=0.1, repair_s=3600.0,
                                        until_s=days * 86_400, seed=3)  # fmt: skip
    assert {f.gpu_type for f in failures} == {0}
    # 10 GPUs x 0.1 a day x 1000 days = 1000 expected; Poisson sd ~32
    assert 880 < len(failures) < 1120
    assert all(f.gpus == 1 and f.repair_s == 3600.0 for f in failures)
    assert [f.at_s for f in failures] == sorted(f.at_s for f in failures)


def test_openb_jobs_carry_cpu_and_memory_for_drf(shared_data: Path) -> None:
    from gpufleet.sim.trace_specs import parse_trace

    trace = parse_trace("openb:default", data_dir=shared_data)
    assert trace.cpu_capacity_milli > 0
    assert trace.memory_capacity_mib > 0
    cpu = trace.workload.column("cpu_milli")
    assert cpu.shape == (len(trace.workload),)
    assert (cpu > 0).all()
    assert float(cpu.max()) <= trace.cpu_capacity_milli
