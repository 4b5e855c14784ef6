"""Readers of Gavel's throughputs, generated job lists, per-VC traces and results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gpufleet.sim.traces.gavel import (
    GavelTraceError,
    parse_result_name,
    read_gavel_jcts,
    read_generated_jobs,
    read_throughputs,
    read_vc_trace,
    throughput_matrix,
)

THROUGHPUTS = {
    gpu: {
        "('ResNet-18 (batch size 64)', 1)": {"null": rate, "('A3C', 1)": [1.0, 1.0]},
        "('A3C', 1)": {"null": rate / 2},
    }
    for gpu, rate in (("v100", 30.0), ("p100", 20.0), ("k80", 10.0))
}
GENERATED = (
    "job_id\tjob_type\tscale_factor\ttotal_steps\tarrival_time_s\tduration_v100_s\t"
    "duration_p100_s\tduration_k80_s\n"
    "0\tResNet-18 (batch size 64)\t1\t3000\t0.0\t100\t150\t300\n"
    "1\tA3C\t1\t150\t12.5\t10\t15\t30\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_generated_job_list_and_its_throughputs(tmp_path: Path) -> None:
    table = read_throughputs(write(tmp_path, "t.json", json.dumps(THROUGHPUTS)))
    jobs = read_generated_jobs(write(tmp_path, "jobs.tsv", GENERATED))
    assert len(jobs) == 2
    assert jobs.job_type == ("ResNet-18 (batch size 64)", "A3C")
    assert jobs.arrival_s.tolist() == [0.0, 12.5]
    rates = throughput_matrix(jobs, table)  # columns v100, p100, k80
    assert rates.tolist() == [[30.0, 20.0, 10.0], [15.0, 10.0, 5.0]]
    # the generated durations are total steps over the rate alone
    assert (jobs.total_steps / rates[:, 0]).tolist() == [100.0, 10.0]


def test_a_vc_trace_line_has_seven_fields(tmp_path: Path) -> None:
    good = "A3C\tpython a3c.py\t-s\t1\t1000\t6.0\t2\n"
    jobs = read_vc_trace(write(tmp_path, "vc.trace", good + good))
    assert jobs.scale.tolist() == [2, 2]
    assert jobs.total_steps.tolist() == [1000.0, 1000.0]
    with pytest.raises(GavelTraceError, match=r"vc2.trace:2: 3 fields, expected 7"):
        read_vc_trace(write(tmp_path, "vc2.trace", good + "a\tb\tc\n"))
    late_then_early = good + good.replace("\t6.0\t", "\t1.0\t")
    with pytest.raises(GavelTraceError, match="not in order"):
        read_vc_trace(write(tmp_path, "vc3.trace", late_then_early))


def test_bad_inputs_name_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(GavelTraceError, match=r"jobs.tsv:3: a number column is not a number"):
        read_generated_jobs(write(tmp_path, "jobs.tsv", GENERATED.replace("12.5", "soon")))
    with pytest.raises(GavelTraceError, match="missing column"):
        read_generated_jobs(write(tmp_path, "j2.tsv", "job_id\tjob_type\n0\tA3C\n"))
    with pytest.raises(GavelTraceError, match="no 'k80' section"):
        read_throughputs(write(tmp_path, "t.json", json.dumps({"v100": {}, "p100": {}})))
    table = read_throughputs(write(tmp_path, "t2.json", json.dumps(THROUGHPUTS)))
    odd = GENERATED.replace("A3C\t1", "CycleGAN\t1")
    with pytest.raises(GavelTraceError, match=r"no throughput for \('CycleGAN', 1\)"):
        throughput_matrix(read_generated_jobs(write(tmp_path, "j3.tsv", odd)), table)
    with pytest.raises(GavelTraceError, match="cannot read"):
        read_vc_trace(tmp_path / "missing.trace")


def test_result_files_and_their_names(tmp_path: Path) -> None:
    path = write(tmp_path, "r.tsv", "job_id\tjct_s\n4000\t9288.011\n4001\t6331.1\n")
    assert read_gavel_jcts(path) == {4000: 9288.011, 4001: 6331.1}
    assert parse_result_name("jct_max_min_fairness_perf_4.4jobs_per_h_s4000_e5000_seed0.tsv") == {
        "policy": "max_min_fairness_perf", "rate": "4.4", "start": "4000", "end": "5000",
        "seed": "0",
    }  # fmt: skip
    assert parse_result_name("other.tsv") is None


def test_the_real_gavel_data(shared_data: Path) -> None:
    gavel = shared_data / "traces" / "gavel"
    table = read_throughputs(gavel / "simulation_throughputs.json")
    jobs = read_generated_jobs(gavel / "generated" / "continuous_single_seed0_2.8jobs_per_h.tsv")
    assert len(jobs) == 13_000
    rates = throughput_matrix(jobs, table)
    assert np.isclose(jobs.total_steps[0] / rates[0, 0], 68344.350, atol=0.01)
    total = sum(len(read_vc_trace(p)) for p in sorted((gavel / "seed=0").glob("*.trace")))
    assert total == 15_264
