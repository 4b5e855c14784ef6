"""One acceptance test: a simulated supplier's faults show in the checks and the judge fails
them; counters are differences; missing GPUs, burn-ins that cannot start or do not end, and
cancellation are reported as the contract says; real GPUs go through the burn-in subprocess."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from nvml_fakes import h100_node

from gpufleet.agent.acceptance.run import (
    AcceptanceCancelled,
    AcceptanceTiming,
    SubprocessBurnIn,
    launcher_for,
    run_acceptance,
)
from gpufleet.agent.burn_in import BurnInHandle, BurnInResult
from gpufleet.agent.fake import (
    FakeFault,
    FakeGpuSource,
    FakeGpuSpecError,
    lesser_model,
    parse_fake_faults,
)
from gpufleet.agent.gpu_source import GpuTelemetry, SourceOptions
from gpufleet.agent.nvml import NvmlSource
from gpufleet.catalog.gpus import GpuTable
from gpufleet.domain.acceptance import BurnIn, GpuCheck, judge


def fake(spec: str = "4xH100-SXM", faults: str = "", seed: int = 0) -> FakeGpuSource:
    return FakeGpuSource(spec, SourceOptions(node_name="n1", seed=seed, fake_faults=faults))


def accept(source: FakeGpuSource, indices: list[int] | None = None) -> list[GpuCheck]:
    gpus = source.discover()
    wanted = [g.index for g in gpus] if indices is None else indices
    return run_acceptance(gpus, source.telemetry, launcher_for(source), wanted, 20.0)


# ---------------------------------------------------------------------- the fake supplier


def test_fault_specs_are_read() -> None:
    assert parse_fake_faults("") == {}
    assert parse_fake_faults("3=slow, 1=ECC+hot,3=xid", gpu_count=4) == {
        1: frozenset({FakeFault.ECC, FakeFault.HOT}),
        3: frozenset({FakeFault.SLOW, FakeFault.XID}),
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("3", "cannot read '3'; expected INDEX=FAULT"),
        ("3=", "cannot read '3='"),
        ("3=slow,", "cannot read ''"),
        ("x=slow", "'x' in 'x=slow' is not a GPU index"),
        ("-1=slow", "'-1' in '-1=slow' is not a GPU index"),
        ("3=slo", "unknown fault 'slo' for GPU 3 .slow, ecc, xid, hot, wrong-model, small-memory"),
        ("4=slow", "there is no GPU 4 .the node has 4."),
    ],
)
def test_bad_fault_specs_name_the_bad_part(spec: str, message: str) -> None:
    with pytest.raises(FakeGpuSpecError, match=message):
        parse_fake_faults(spec, gpu_count=4)
    with pytest.raises(FakeGpuSpecError, match=message):
        fake(faults=spec)


@pytest.mark.parametrize(
    ("ordered", "delivered"),
    [
        ("H100-SXM", "H100-NVL"),
        ("A100-80GB", "A100-40GB"),
        ("H200", "H100-SXM"),
        ("L4", "RTX-4070"),
    ],
)
def test_a_wrong_model_is_a_lesser_one(table: GpuTable, ordered: str, delivered: str) -> None:
    assert lesser_model(table.get(ordered), table).id == delivered


def test_a_model_with_nothing_below_cannot_be_delivered_wrong() -> None:
    with pytest.raises(FakeGpuSpecError, match="no lesser model than K80"):
        fake("2xK80", "1=wrong-model")


def test_a_healthy_simulated_delivery_passes(table: GpuTable) -> None:
    checks = accept(fake("2xH100-SXM,1xA100-80GB"))
    for check in checks:
        assert check.burn_in is BurnIn.SIMULATED
        assert (check.ecc_errors, check.xid_errors) == (0, 0)
        assert check.max_temperature_c is not None
        assert 62.0 <= check.max_temperature_c <= 78.0  # sampled under load
        verdict = judge(check, table.get(check.model))
        assert verdict.passed, verdict.reasons
        assert verdict.tflops_fraction is not None
        assert 0.90 <= verdict.tflops_fraction <= 0.97
        assert verdict.bandwidth_fraction is not None
        assert 0.88 <= verdict.bandwidth_fraction <= 0.95


def test_simulated_results_follow_the_seed() -> None:
    assert accept(fake(seed=1)) == accept(fake(seed=1))
    assert accept(fake(seed=1))[0].bf16_tflops != accept(fake(seed=2))[0].bf16_tflops


@pytest.mark.parametrize(
    ("fault", "reasons"),
    [
        ("slow", ["BF16 matmul", "memory bandwidth"]),
        ("ecc", ["2 uncorrected ECC errors during the test"]),
        ("xid", ["1 critical XID event during the test"]),
        ("hot", ["reached 95.0 °C during the test (limit 87.0 °C)"]),
        (
            "wrong-model",
            [
                "reports model H100-NVL (NVIDIA H100 NVL 94GB), but H100-SXM was promised",
                "reports 94.0 GiB of memory; the H100-SXM spec is 80 GB",
            ],
        ),
        ("small-memory", ["reports 40.0 GiB of memory; the H100-SXM spec is 80 GB"]),
    ],
)
def test_each_injected_fault_shows_and_fails_the_judge(
    table: GpuTable, fault: str, reasons: list[str]
) -> None:
    checks = accept(fake("3xH100-SXM", f"1={fault}"))
    promised = table.get("H100-SXM")
    verdicts = [judge(check, promised) for check in checks]
    assert [v.passed for v in verdicts] == [True, False, True]
    assert len(verdicts[1].reasons) == len(reasons)
    for reason, expected in zip(verdicts[1].reasons, reasons, strict=True):
        assert reason.startswith(expected)


def test_a_hot_gpu_cools_down_after_its_burn_in() -> None:
    source = fake("1xH100-SXM", "0=hot")
    accept(source)
    (sample,) = source.telemetry()
    assert sample.temperature_c is not None
    assert sample.temperature_c < 40.0


# ---------------------------------------------------------------------- run_acceptance


class Instant:
    """Burn-ins that end at their first poll with a fixed result; records what it started."""

    def __init__(self, result: BurnInResult | None = None, *, fail: bool = False) -> None:
        self.result = result or BurnInResult(BurnIn.TORCH, 800.0, 3000.0, "fine")
        self.fail = fail
        self.started: list[tuple[int, float]] = []
        self.killed: list[int] = []

    def start(self, index: int, seconds: float) -> BurnInHandle:
        if self.fail:
            raise OSError("no such file: python")
        self.started.append((index, seconds))
        return self.Handle(self, index)

    class Handle:
        def __init__(self, launcher: Instant, index: int, *, never: bool = False) -> None:
            self.launcher = launcher
            self.index = index
            self.never = never

        def poll(self) -> BurnInResult | None:
            return None if self.never else self.launcher.result

        def kill(self) -> None:
            self.launcher.killed.append(self.index)


class Never(Instant):
    def start(self, index: int, seconds: float) -> BurnInHandle:
        self.started.append((index, seconds))
        return self.Handle(self, index, never=True)


class Samples:
    """Telemetry that replays a script of (ecc, xid, temperature) per call, for GPU 0."""

    def __init__(self, script: list[tuple[int | None, int | None, float]]) -> None:
        self.script = script
        self.calls = 0

    def __call__(self) -> list[GpuTelemetry]:
        ecc, xid, temperature = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        return [GpuTelemetry(0, 90.0, 10.0, temperature, 500.0, ecc, xid)]


def test_counters_are_differences_and_temperatures_the_maximum() -> None:
    gpus = fake("1xH100-SXM").discover()
    samples = Samples([(3, 5, 40.0), (4, 5, 81.5), (7, 5, 60.0)])
    (check,) = run_acceptance(gpus, samples, Instant(), [0], 20.0)
    assert (check.ecc_errors, check.xid_errors) == (4, 0)
    assert (check.max_temperature_c, check.max_power_w) == (81.5, 500.0)
    assert (check.burn_in, check.bf16_tflops, check.detail) == (BurnIn.TORCH, 800.0, "fine")


@pytest.mark.parametrize(
    "script",
    [[(None, None, 40.0)], [(5, 5, 40.0), (5, 5, 40.0), (2, 1, 40.0)]],
    ids=["not reported", "went backwards"],
)
def test_counters_that_cannot_be_compared_are_unknown(
    script: list[tuple[int | None, int | None, float]],
) -> None:
    gpus = fake("1xH100-SXM").discover()
    (check,) = run_acceptance(gpus, Samples(script), Instant(), [0], 20.0)
    assert (check.ecc_errors, check.xid_errors) == (None, None)


def test_a_gpu_the_node_lacks_gets_a_check_that_fails(table: GpuTable) -> None:
    source = fake("2xH100-SXM")
    launcher = Instant()
    checks = run_acceptance(source.discover(), source.telemetry, launcher, [1, 5], 20.0)
    assert [c.index for c in checks] == [1, 5]
    assert launcher.started == [(1, 20.0)]
    assert checks[1].detail == "this node has no GPU 5"
    assert judge(checks[1], table.get("H100-SXM")).reasons[0] == (
        "no GPU 5 was found on the node: this node has no GPU 5"
    )


def test_no_burn_in_asked_for_reads_the_counters_only() -> None:
    source = fake("1xH100-SXM")
    launcher = Instant()
    (check,) = run_acceptance(source.discover(), source.telemetry, launcher, [0], 0.0)
    assert launcher.started == []
    assert (check.burn_in, check.detail, check.ecc_errors) == (
        BurnIn.SKIPPED,
        "no burn-in asked for",
        0,
    )


def test_a_burn_in_that_cannot_start_ran_and_measured_nothing() -> None:
    source = fake("1xH100-SXM")
    (check,) = run_acceptance(source.discover(), source.telemetry, Instant(fail=True), [0], 5.0)
    assert (check.burn_in, check.bf16_tflops) == (BurnIn.TORCH, None)
    assert check.detail == "could not start: no such file: python"


def test_a_burn_in_that_does_not_end_is_stopped_at_the_deadline() -> None:
    source = fake("2xH100-SXM")
    now = [0.0]
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    launcher = Never()
    checks = run_acceptance(
        source.discover(),
        source.telemetry,
        launcher,
        [0, 1],
        10.0,
        clock=lambda: now[0],
        wait=wait,
        timing=AcceptanceTiming(sample_s=2.0, startup_s=5.0),
    )
    assert launcher.killed == [0, 1]
    assert waits == [2.0] * 8  # sampled every 2 s until 15 s had passed
    assert [c.detail for c in checks] == ["did not end within 15 s; stopped"] * 2
    assert all(c.bf16_tflops is None and c.burn_in is BurnIn.TORCH for c in checks)


def test_stopping_cancels_the_test_and_kills_its_burn_ins() -> None:
    source = fake("2xH100-SXM")
    launcher = Never()
    with pytest.raises(AcceptanceCancelled):
        run_acceptance(
            source.discover(), source.telemetry, launcher, [0, 1], 10.0, stopping=lambda: True
        )
    assert launcher.killed == [0, 1]


# ---------------------------------------------------------------------- real GPUs


def test_real_gpus_are_burnt_in_by_the_subprocess_and_fake_ones_by_the_source() -> None:
    assert isinstance(launcher_for(NvmlSource(h100_node())), SubprocessBurnIn)
    assert not isinstance(launcher_for(fake()), SubprocessBurnIn)


@pytest.fixture
def no_torch(tmp_path: Path) -> dict[str, str]:
    """An environment whose Python cannot import torch, whether or not it is installed."""
    shim = tmp_path / "shim"
    (shim / "torch").mkdir(parents=True)
    (shim / "torch" / "__init__.py").write_text("raise ImportError(\"No module named 'torch'\")\n")
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(shim)}


def test_nvml_gpus_without_torch_are_checked_with_the_burn_in_skipped(
    no_torch: dict[str, str],
) -> None:
    nvml = h100_node()
    source = NvmlSource(nvml)
    nvml.events.append((0, 79))  # before the test: not counted
    launcher = SubprocessBurnIn(environ=no_torch)
    checks = run_acceptance(
        source.discover(),
        source.telemetry,
        launcher,
        [0, 1],
        1.0,
        wait=threading.Event().wait,
        timing=AcceptanceTiming(sample_s=0.02),
    )
    first, second = checks
    assert (first.model, first.uuid, first.memory_gib) == ("H100-SXM", "GPU-aaaa", 79.65)
    assert (first.burn_in, first.detail) == (BurnIn.SKIPPED, "PyTorch not installed")
    assert (first.bf16_tflops, first.memory_bandwidth_gbps) == (None, None)
    assert (first.ecc_errors, first.xid_errors) == (0, 0)
    assert (first.max_temperature_c, first.max_power_w) == (40.0, 123.5)
    assert (second.ecc_errors, second.xid_errors) == (None, None)  # the device cannot say


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "python"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize(
    ("body", "result"),
    [
        (
            (
                'echo \'warming up\'; echo \'{"burn_in": "torch", "bf16_tflops": 790.5, '
                '"memory_bandwidth_gbps": 4301, "detail": "ok"}\''
            ),
            BurnInResult(BurnIn.TORCH, 790.5, 4301.0, "ok"),
        ),
        (
            "echo 'RuntimeError: CUDA error: unspecified launch failure' >&2; exit 1",
            BurnInResult(
                BurnIn.TORCH,
                detail="the burn-in process exited 1 without a result: "
                "RuntimeError: CUDA error: unspecified launch failure",
            ),
        ),
        (
            'echo \'{"burn_in": "maybe"}\'',
            BurnInResult(
                BurnIn.TORCH,
                detail="unreadable result: burn-in result.burn_in: "
                "expected one of ['torch', 'simulated', 'skipped'], got 'maybe'",
            ),
        ),
    ],
    ids=["result", "crash", "garbled"],
)
def test_the_subprocess_result_is_its_last_json_line(
    tmp_path: Path, body: str, result: BurnInResult
) -> None:
    launcher = SubprocessBurnIn(python=script(tmp_path, body), environ={"PATH": "/usr/bin:/bin"})
    handle = launcher.start(3, 1.0)
    process = handle.process  # type: ignore[attr-defined]
    process.wait()
    assert handle.poll() == result
    assert process.args[1:] == ["-m", "gpufleet.agent.burn_in", "--seconds", "1", "--json"]


def test_the_subprocess_sees_one_gpu_in_pci_order_and_this_gpufleet(tmp_path: Path) -> None:
    body = 'echo "{\\"burn_in\\": \\"skipped\\", \\"detail\\": \\"$CUDA_VISIBLE_DEVICES $CUDA_DEVICE_ORDER $PYTHONPATH\\"}"'  # noqa: E501
    launcher = SubprocessBurnIn(python=script(tmp_path, body), environ={"PYTHONPATH": "/x"})
    handle = launcher.start(3, 1.0)
    handle.process.wait()  # type: ignore[attr-defined]
    result = handle.poll()
    assert result is not None
    src = str(Path(sys.modules["gpufleet"].__file__ or "").resolve().parents[1])
    assert result.detail == f"3 PCI_BUS_ID {src}:/x"


def test_a_killed_subprocess_is_reaped(tmp_path: Path) -> None:
    launcher = SubprocessBurnIn(python=script(tmp_path, "exec sleep 60"), environ={})
    handle = launcher.start(0, 1.0)
    assert handle.poll() is None
    handle.kill()
    assert handle.process.returncode is not None  # type: ignore[attr-defined]
