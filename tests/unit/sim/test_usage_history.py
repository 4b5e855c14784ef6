"""GPU-hours per period from usage records and the openb trace, on cases worked out by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gpufleet.planning.forecast import forecast
from gpufleet.sim.traces.openb import TraceError, read_pod_spans
from gpufleet.sim.traces.usage import (
    PERIOD_HOURS,
    gpu_hours_per_period,
    read_openb_history,
    read_usage_csv,
)

JAN2 = 1_704_153_600  # 2024-01-02T00:00:00Z in epoch seconds

# 2024-01-01 and 2024-01-02, UTC:
#   a: 2 GPUs 12:00 day 1 -> 06:00 day 2  -> day 1: 2 x 12 h = 24, day 2: 2 x 6 h = 12
#   b: 0.5 GPU all of day 2 (epoch)      -> day 2: 0.5 x 24 h = 12
#   c: 1 GPU from 18:00 day 2, no end    -> runs to the latest time, 00:00 day 3: 6
USAGE = f"""start,end,gpus,project,gpu
2024-01-01T12:00:00,2024-01-02T06:00:00Z,2,alpha,H100
{JAN2},{JAN2 + 86_400},0.5,beta,A100
2024-01-02T18:00:00+00:00,,1,alpha,A100
"""

POD_HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
POD_HEADER += "creation_time,deletion_time,scheduled_time\n"


def write(tmp_path: Path, text: str, name: str = "usage.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------- usage CSV


def test_a_record_is_split_across_the_days_it_spans(tmp_path: Path) -> None:
    history = read_usage_csv(write(tmp_path, USAGE))
    np.testing.assert_allclose(history.gpu_hours, [24.0, 12.0 + 12.0 + 6.0])
    assert history.labels == ("2024-01-01T00:00:00+00:00", "2024-01-02T00:00:00+00:00")
    np.testing.assert_array_equal(history.period_start_s, [JAN2 - 86_400, JAN2])
    assert history.open_records == 1
    assert history.period_hours == PERIOD_HOURS["day"]
    assert history.end_s == JAN2 + 86_400


def test_half_days_efficiency_and_project(tmp_path: Path) -> None:
    path = write(tmp_path, USAGE)
    halves = read_usage_csv(path, period_hours=12.0)
    # Half-days: a gives 24 h in the 2nd and 12 in the 3rd, b 6 in the 3rd and 4th, c 6 in the 4th.
    np.testing.assert_allclose(halves.gpu_hours, [0.0, 24.0, 18.0, 12.0])
    weighted = read_usage_csv(path, efficiency={"H100": 1.0, "A100": 0.5})
    np.testing.assert_allclose(weighted.gpu_hours, [24.0, 12.0 + 6.0 + 3.0])
    alpha = read_usage_csv(path, project="alpha")
    np.testing.assert_allclose(alpha.gpu_hours, [24.0, 12.0 + 6.0])


def test_partial_last_period_is_left_out_unless_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "start,end,gpus\n0,129600,1\n")  # 36 h from the epoch
    assert read_usage_csv(path).gpu_hours.tolist() == [24.0]
    assert read_usage_csv(path, keep_partial=True).gpu_hours.tolist() == [24.0, 12.0]
    later = read_usage_csv(path, origin_s=43_200.0)  # from 12:00: one whole day, 12:00 -> 12:00
    assert later.gpu_hours.tolist() == [24.0]
    assert later.labels == ("1970-01-01T12:00:00+00:00",)


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("start,end,gpus\n0,10,1\nyesterday,10,1\n", {}, r":3: \[start\] neither epoch"),
        ("start,end,gpus\n100,10,1\n", {}, r":2: \[end\] 10 is before start"),
        ("start,end,gpus\n0,10,-1\n", {}, r":2: \[gpus\] must be a finite number >= 0"),
        ("start,end,gpus\n0,10,two\n", {}, r":2: \[gpus\] not a number"),
        ("start,end,gpus\n0,nan,1\n", {}, r":2: \[end\] not a finite time"),
        ("start,gpus\n0,1\n", {}, r":1: missing column\(s\) end"),
        ("start,end,gpus\n0,86400,1\n", {"efficiency": {"H100": 1.0}}, r":1: missing .* gpu"),
        ("start,end,gpus,gpu\n0,86400,1,T4\n", {"efficiency": {"H100": 1.0}}, r"\[gpu\] 'T4'"),
        ("start,end,gpus\n", {}, "no usage records"),
        ("start,end,gpus,project\n0,86400,1,a\n", {"project": "b"}, "no usage records of"),
        ("start,end,gpus\n0,3600,1\n", {}, "less than one whole period of 24 h"),
    ],
)
def test_bad_records_name_file_line_and_column(
    tmp_path: Path, text: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(TraceError, match=r"usage\.csv.*" + message):
        read_usage_csv(write(tmp_path, text), **kwargs)  # type: ignore[arg-type]


def test_aggregation_matches_a_loop_over_records() -> None:
    rng = np.random.default_rng(7)
    starts = rng.uniform(-50_000, 400_000, 300)
    ends = starts + rng.exponential(40_000, 300)
    gpus = rng.choice([0.25, 0.5, 1.0, 8.0], 300)
    got = gpu_hours_per_period(starts, ends, gpus, origin_s=0.0, period_hours=6.0, periods=20)
    expected = np.zeros(20)
    for s, e, g in zip(starts, ends, gpus, strict=True):
        for p in range(20):
            a, b = p * 21_600.0, (p + 1) * 21_600.0
            expected[p] += g * max(0.0, min(e, b) - max(s, a)) / 3600
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-6)


# ---------------------------------------------------------------- openb


def test_openb_pods_are_gpus_times_overlap_hours(tmp_path: Path) -> None:
    # p0: 0.5 GPU 0 h -> 36 h: 12 + 6; p1: 2 GPUs 12 h -> 24 h: 24 + 0; p2: no GPU;
    # p3: 1 GPU (1200 milli clipped to 1000) from 28 h, no deletion: to the trace end, 48 h: 20;
    # p4: 0.25 GPU 25 h -> 48 h: 5.75. Day 1: 12 + 24 = 36; day 2: 6 + 20 + 5.75 = 31.75.
    path = write(
        tmp_path,
        POD_HEADER
        + "p0,1000,1024,1,500,,LS,Running,0,129600,0\n"
        + "p1,1000,1024,2,1000,,LS,Running,43200,86400,43200\n"
        + "p2,1000,1024,0,0,,BE,Running,0,172800,0\n"
        + "p3,1000,1024,1,1200,,LS,Running,100800,,100800\n"
        + "p4,1000,1024,1,250,,BE,Pending,90000,172800,\n",
        "openb_pod_list_tiny.csv",
    )
    history = read_openb_history(path)
    np.testing.assert_allclose(history.gpu_hours, [36.0, 31.75])
    assert history.labels == ("t+0h", "t+24h")
    assert history.open_records == 1
    spans = read_pod_spans(path)
    assert [(s.name, s.gpus, s.deletion_s) for s in spans][2:4] == [
        ("p2", 0.0, 172_800),
        ("p3", 1.0, None),
    ]
    from_day_2 = read_openb_history(path, origin_s=86_400.0)
    np.testing.assert_allclose(from_day_2.gpu_hours, [31.75])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("p0,1,1,1,500,,LS,Running,100,50,0\n", r":2: \[deletion_time\] 50 before creation 100"),
        ("p0,1,1,1,500,,LS,Running,,50,0\n", r":2: \[creation_time\] not a whole number"),
        ("p0,1,1,x,500,,LS,Running,0,50,0\n", r":2: \[num_gpu\] not a whole number"),
    ],
)
def test_openb_errors_name_file_line_and_column(tmp_path: Path, row: str, message: str) -> None:
    path = write(tmp_path, POD_HEADER + row, "pods.csv")
    with pytest.raises(TraceError, match=r"pods\.csv" + message):
        read_openb_history(path)


@pytest.mark.shared_data
def test_the_real_default_trace_gives_daily_gpu_hours(shared_data: Path) -> None:
    path = shared_data / "traces" / "openb" / "openb_pod_list_default.csv"
    history = read_openb_history(path)
    # 12,902,960 s of trace = 149.3 days: 149 whole days, every pod deleted by the end.
    assert history.gpu_hours.size == 149
    assert history.open_records == 0
    assert history.gpu_hours.mean() == pytest.approx(344.24, abs=0.01)
    spans = read_pod_spans(path)
    in_whole_days = sum(
        s.gpus * (min(s.deletion_s or 0, 149 * 86_400) - min(s.creation_s, 149 * 86_400))
        for s in spans
    )
    assert history.gpu_hours.sum() == pytest.approx(in_whole_days / 3600)
    result = forecast(history.gpu_hours, 14)
    assert result.model == "naive"
    assert result.backtest_smape_pct == pytest.approx(39.09, abs=0.01)
    assert result.scenarios.shape == (200, 14)
