"""The acceptance judge: a healthy GPU passes; each broken rule fails with a sentence that carries
the numbers; what cannot be judged is a note; the wire format round-trips strictly."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpufleet.catalog.gpus import GpuTable
from gpufleet.domain.acceptance import (
    BurnIn,
    GpuCheck,
    Limits,
    check_from_json,
    check_to_json,
    judge,
    memory_bounds_gib,
    verdict_to_json,
)

from factories import make_model

SPEC = make_model(id="X100", memory_gib=80.0, bf16_tflops=1000.0, memory_bandwidth_gbps=3000.0)


def make_check(**overrides: Any) -> GpuCheck:
    """A check of a healthy X100 (``SPEC``) whose burn-in reached 90 % of spec."""
    fields: dict[str, Any] = {
        "index": 0,
        "name": "NVIDIA X100",
        "model": "X100",
        "memory_gib": 79.6,
        "uuid": "GPU-0000",
        "ecc_errors": 0,
        "xid_errors": 0,
        "max_temperature_c": 71.0,
        "max_power_w": 650.0,
        "burn_in": BurnIn.TORCH,
        "bf16_tflops": 900.0,
        "memory_bandwidth_gbps": 2700.0,
        "detail": "",
    }
    return GpuCheck(**(fields | overrides))


def test_a_healthy_gpu_passes_with_its_fractions() -> None:
    verdict = judge(make_check(index=3), SPEC)
    assert verdict.passed
    assert (verdict.index, verdict.reasons, verdict.notes) == (3, (), ())
    assert verdict.tflops_fraction == pytest.approx(0.9)
    assert verdict.bandwidth_fraction == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        (
            {"model": "X50", "name": "NVIDIA X50"},
            "reports model X50 (NVIDIA X50), but X100 was promised",
        ),
        (
            {"memory_gib": 40.0},
            "reports 40.0 GiB of memory; the X100 spec is 80 GB (accepted 70.8-84.0 GiB)",
        ),
        ({"memory_gib": 90.0}, "reports 90.0 GiB"),
        ({"ecc_errors": 2}, "2 uncorrected ECC errors during the test (needs 0)"),
        ({"xid_errors": 1}, "1 critical XID event during the test (needs 0)"),
        ({"max_temperature_c": 94.5}, "reached 94.5 °C during the test (limit 87.0 °C)"),
        ({"max_power_w": 800.0}, "drew 800 W, more than 110% of the X100 TDP 700 W (770 W)"),
        (
            {"bf16_tflops": 512.0},
            "BF16 matmul 512.0 TFLOPS is 51% of the X100 spec 1000 (needs >= 60%)",
        ),
        (
            {"memory_bandwidth_gbps": 2500.0},
            "memory bandwidth 2500.0 GB/s is 83% of the X100 spec 3000 (needs >= 85%)",
        ),
        (
            {"bf16_tflops": None, "detail": "CUDA error: out of memory"},
            "the burn-in ran but measured no BF16 matmul: CUDA error: out of memory",
        ),
        ({"memory_bandwidth_gbps": None}, "the burn-in ran but measured no memory bandwidth"),
        (
            {"model": "", "name": "", "detail": "this node has no GPU 0"},
            "no GPU 0 was found on the node: this node has no GPU 0",
        ),
    ],
)
def test_each_broken_rule_fails_with_its_numbers(overrides: dict[str, Any], reason: str) -> None:
    verdict = judge(make_check(**overrides), SPEC)
    assert not verdict.passed
    assert len(verdict.reasons) == 1
    assert verdict.reasons[0].startswith(reason)


def test_every_broken_rule_is_listed() -> None:
    check = make_check(model="X50", ecc_errors=1, max_temperature_c=99.0, bf16_tflops=10.0)
    assert len(judge(check, SPEC).reasons) == 4


def test_a_skipped_burn_in_is_a_note_not_a_failure() -> None:
    check = make_check(
        burn_in=BurnIn.SKIPPED,
        bf16_tflops=None,
        memory_bandwidth_gbps=None,
        detail="PyTorch not installed",
    )
    verdict = judge(check, SPEC)
    assert verdict.passed
    assert verdict.notes == ("burn-in skipped: PyTorch not installed",)
    assert (verdict.tflops_fraction, verdict.bandwidth_fraction) == (None, None)


def test_a_simulated_burn_in_is_judged_and_noted() -> None:
    verdict = judge(make_check(burn_in=BurnIn.SIMULATED, bf16_tflops=500.0), SPEC)
    assert not verdict.passed
    assert verdict.notes == ("burn-in simulated: the figures are not measurements",)


def test_unknown_counters_and_specs_are_notes() -> None:
    spec = dataclasses.replace(
        SPEC, memory_gib=None, bf16_tflops=None, fp16_tflops=None, tdp_w=None,
        memory_bandwidth_gbps=None,
    )  # fmt: skip
    check = make_check(ecc_errors=None, xid_errors=None, max_temperature_c=None, memory_gib=1.0)
    verdict = judge(check, spec)
    assert verdict.passed
    assert verdict.notes == (
        "memory not judged: the X100 spec has no memory size",
        "uncorrected ECC errors unknown: the device does not report them",
        "critical XID events unknown: the device does not report them",
        "temperature not judged: no sample during the test",
        "power not judged: the X100 spec has no TDP",
        "BF16 matmul not judged: the X100 spec has no dense FP16 TFLOPS",
        "memory bandwidth not judged: the X100 spec has no memory bandwidth",
    )


def test_parts_without_bf16_are_judged_against_their_fp16_spec(table: GpuTable) -> None:
    v100 = table.get("V100-32GB")
    check = make_check(model="V100-32GB", memory_gib=31.7, bf16_tflops=70.0, max_power_w=280.0)
    verdict = judge(check, v100)
    assert verdict.reasons[0].startswith("BF16 matmul 70.0 TFLOPS is 56% of the V100-32GB spec 125")
    assert verdict.tflops_fraction == pytest.approx(0.56)


@pytest.mark.parametrize(
    ("model", "nvml_mib"),
    [
        ("H200", 143_771),
        ("H100-SXM", 81_559),
        ("A100-40GB", 40_960),
        ("L4", 23_034),
        ("T4", 15_360),
    ],
)
def test_memory_as_nvml_reports_it_passes_for_decimal_and_binary_vendor_gb(
    table: GpuTable, model: str, nvml_mib: int
) -> None:
    spec = table.get(model)
    check = make_check(model=model, memory_gib=nvml_mib / 1024, max_power_w=None)
    check = dataclasses.replace(
        check, burn_in=BurnIn.SKIPPED, bf16_tflops=None, memory_bandwidth_gbps=None
    )
    assert judge(check, spec).passed, judge(check, spec).reasons


def test_memory_bounds_read_the_spec_as_decimal_gb_below_and_binary_above() -> None:
    low, high = memory_bounds_gib(80.0, 0.05)
    assert low == pytest.approx(80 * 1e9 / 2**30 * 0.95)
    assert high == pytest.approx(84.0)


def test_limits_can_be_tightened_to_the_contracts_85_percent() -> None:
    check = make_check(bf16_tflops=840.0)
    assert judge(check, SPEC).passed
    strict = judge(check, SPEC, Limits(min_tflops_fraction_of_spec=0.85))
    assert strict.reasons == (
        "BF16 matmul 840.0 TFLOPS is 84% of the X100 spec 1000 (needs >= 85%)",
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"min_fraction_of_spec": 1.5},
        {"min_tflops_fraction_of_spec": -0.1},
        {"memory_tolerance": 1.0},
    ],
)
def test_limits_check_their_values(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        Limits(**bad)


spec_figure = st.floats(min_value=1.0, max_value=10_000.0)


@given(tflops=spec_figure, bandwidth=spec_figure, memory=st.floats(1.0, 512.0), tdp=spec_figure)
def test_a_check_at_exactly_the_spec_with_no_errors_always_passes(
    tflops: float, bandwidth: float, memory: float, tdp: float
) -> None:
    spec = dataclasses.replace(
        SPEC, bf16_tflops=tflops, memory_bandwidth_gbps=bandwidth, memory_gib=memory, tdp_w=tdp
    )
    check = make_check(
        bf16_tflops=tflops, memory_bandwidth_gbps=bandwidth, memory_gib=memory, max_power_w=tdp
    )
    verdict = judge(check, spec)
    assert verdict.passed, verdict.reasons


@given(tflops=spec_figure, floor=st.floats(0.05, 1.0), below=st.floats(0.0, 0.999))
def test_tflops_below_the_floor_always_fails(tflops: float, floor: float, below: float) -> None:
    spec = dataclasses.replace(SPEC, bf16_tflops=tflops)
    check = make_check(bf16_tflops=tflops * floor * below, memory_bandwidth_gbps=3000.0)
    limits = Limits(min_tflops_fraction_of_spec=floor)
    verdict = judge(check, spec, limits)
    assert not verdict.passed
    assert verdict.reasons[0].startswith("BF16 matmul")


@given(below=st.floats(0.0, 0.8499))
def test_with_the_contracts_85_percent_lower_tflops_always_fails(below: float) -> None:
    check = make_check(bf16_tflops=1000.0 * below)
    assert not judge(check, SPEC, Limits(min_tflops_fraction_of_spec=0.85)).passed


# ---------------------------------------------------------------------- wire format


def test_checks_round_trip_through_json() -> None:
    check = make_check(ecc_errors=None, detail="8192³ bf16")
    data = check_to_json(check)
    assert data["burn_in"] == "torch"
    assert set(data) == {
        "index", "name", "model", "memory_gib", "uuid", "ecc_errors", "xid_errors",
        "max_temperature_c", "max_power_w", "burn_in", "bf16_tflops", "memory_bandwidth_gbps",
        "detail",
    }  # fmt: skip
    assert check_from_json(data) == check
    assert check_from_json(data | {"memory_gib": 80}).memory_gib == 80.0  # JSON ints are numbers


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"burn_in": "maybe"}, "GpuCheck.burn_in: expected one of torch, simulated, skipped"),
        ({"index": "0"}, "GpuCheck.index: expected an integer"),
        ({"index": True}, "GpuCheck.index: expected an integer"),
        ({"index": -1}, "GpuCheck.index must be >= 0"),
        ({"memory_gib": None}, "GpuCheck.memory_gib: expected a number"),
        ({"ecc_errors": 1.5}, "GpuCheck.ecc_errors: expected an integer"),
        ({"ecc_errors": -1}, "GpuCheck.ecc_errors must be >= 0"),
        ({"bf16_tflops": "fast"}, "GpuCheck.bf16_tflops: expected a number"),
        ({"bf16_tflops": float("nan")}, "GpuCheck.bf16_tflops must be a number >= 0"),
        ({"uuid": None}, "GpuCheck.uuid: expected a string"),
        ({"burn_in": "skipped"}, "a skipped burn-in has no bf16_tflops"),
    ],
)
def test_bad_checks_name_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_from_json(check_to_json(make_check()) | change)


def test_detail_may_be_left_out_and_verdicts_render_as_json() -> None:
    data = check_to_json(make_check())
    del data["detail"]
    assert check_from_json(data).detail == ""
    assert verdict_to_json(judge(make_check(), SPEC)) == {
        "index": 0,
        "passed": True,
        "reasons": [],
        "notes": [],
        "tflops_fraction": pytest.approx(0.9),
        "bandwidth_fraction": pytest.approx(0.9),
    }
