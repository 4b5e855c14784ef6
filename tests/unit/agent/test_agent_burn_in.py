"""The burn-in process: its one-JSON-line contract without PyTorch or without CUDA (real
subprocesses, with a stand-in ``torch`` package on the path), and its measurement logic against a
fake ``torch`` whose simulated GPU runs at a known speed on a virtual clock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gpufleet.agent import burn_in
from gpufleet.agent.burn_in import BurnInResult, measure
from gpufleet.domain.acceptance import BurnIn

SRC = Path(burn_in.__file__).resolve().parents[2]


def run_module(tmp_path: Path, torch_init: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m gpufleet.agent.burn_in`` with ``torch`` replaced by ``torch_init``."""
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(torch_init)
    env = {"PYTHONPATH": f"{tmp_path}:{SRC}", "CUDA_VISIBLE_DEVICES": "3", "PATH": "/usr/bin"}
    return subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "gpufleet.agent.burn_in", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


NO_TORCH = "raise ImportError(\"No module named 'torch'\")\n"
CPU_TORCH = """
__version__ = "2.5.1+cpu"
class version:
    cuda = None
    hip = None
class cuda:
    is_available = staticmethod(lambda: False)
    device_count = staticmethod(lambda: 0)
"""
NO_DEVICE_TORCH = CPU_TORCH.replace("cuda = None", "cuda = '12.4'").replace("+cpu", "+cu124")


@pytest.mark.parametrize(
    ("torch_init", "detail"),
    [
        (NO_TORCH, "PyTorch not installed"),
        (CPU_TORCH, "PyTorch 2.5.1+cpu is a CPU-only build (no CUDA)"),
        (
            NO_DEVICE_TORCH,
            "PyTorch 2.5.1+cu124 (CUDA 12.4) sees no usable CUDA device (CUDA_VISIBLE_DEVICES=3)",
        ),
        ("raise OSError('libcudart.so.12: cannot open')", "PyTorch cannot be imported: OSError"),
    ],
    ids=["no torch", "cpu-only torch", "no device", "broken torch"],
)
def test_without_a_usable_gpu_it_prints_one_skipped_line(
    tmp_path: Path, torch_init: str, detail: str
) -> None:
    done = run_module(tmp_path, torch_init, "--seconds", "1", "--json")
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    result = json.loads(line)
    assert result | {"detail": None} == {
        "burn_in": "skipped",
        "bf16_tflops": None,
        "memory_bandwidth_gbps": None,
        "detail": None,
    }
    assert result["detail"].startswith(detail)
    assert BurnInResult.from_json(result).burn_in is BurnIn.SKIPPED


def test_without_json_it_prints_for_people(tmp_path: Path) -> None:
    done = run_module(tmp_path, NO_TORCH, "--seconds", "2")
    assert done.stdout.splitlines() == [
        "burn-in: skipped",
        "bf16_tflops: -",
        "memory_bandwidth_gbps: -",
        "detail: PyTorch not installed",
    ]


def test_the_time_budget_must_be_positive(tmp_path: Path) -> None:
    done = run_module(tmp_path, NO_TORCH, "--seconds", "0")
    assert done.returncode == 2
    assert "--seconds must be > 0" in done.stderr


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected an object"),
        ({"burn_in": "torch", "bf16_tflops": "fast"}, "bf16_tflops: expected a number or null"),
        ({"burn_in": None}, "burn_in: expected one of"),
    ],
)
def test_results_are_read_strictly(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BurnInResult.from_json(data)


# ---------------------------------------------------------------------- the measurement


class FakeTorch:
    """What ``measure`` uses of ``torch``: one simulated GPU that does ``tflops`` on matmuls and
    ``gbps`` (read + written) on copies. Work is queued on a GPU timeline; the virtual wall
    clock catches up with it at every synchronisation, as a real host would."""

    bfloat16 = "bfloat16"
    float16 = "float16"
    uint8 = "uint8"
    __version__ = "2.11.0+fake"

    def __init__(self, *, tflops: float, gbps: float, major: int = 9, free: int = 100 << 30):
        self.tflops = tflops
        self.gbps = gbps
        self.gpu_s = 0.0
        self.wall_s = 0.0
        self.free = free
        self.matmuls = 0
        self.dtypes: set[str] = set()
        props = SimpleNamespace(name="Fake H200", major=major, minor=0)
        fake = self

        class Event:
            def __init__(self, *, enable_timing: bool) -> None:
                assert enable_timing
                self.at: float | None = None

            def record(self) -> None:  # an idle GPU reaches the event at once
                fake.gpu_s = self.at = max(fake.gpu_s, fake.wall_s)

            def synchronize(self) -> None:
                fake.wall_s = max(fake.wall_s, fake.gpu_s)

            def elapsed_time(self, end: Event) -> float:
                assert self.at is not None
                assert end.at is not None
                return (end.at - self.at) * 1000.0

        self.cuda = SimpleNamespace(
            Event=Event,
            set_device=lambda device: None,
            get_device_properties=lambda device: props,
            synchronize=lambda: Event(enable_timing=True).synchronize(),
            empty_cache=lambda: None,
            mem_get_info=lambda device: (self.free, 141 << 30),
        )

    def clock(self) -> float:
        self.wall_s += 1e-6  # the host loop itself takes a little time
        return self.wall_s

    def device(self, kind: str, index: int) -> tuple[str, int]:
        return (kind, index)

    def manual_seed(self, seed: int) -> None:
        pass

    def randn(self, shape: tuple[int, int], *, device: Any, dtype: str) -> Tensor:
        self.dtypes.add(dtype)
        return Tensor(self, shape[0] * shape[1])

    def empty(self, shape: Any, *, device: Any, dtype: str) -> Tensor:
        return Tensor(self, shape if isinstance(shape, int) else shape[0] * shape[1])

    def empty_like(self, tensor: Tensor) -> Tensor:
        return Tensor(self, tensor.size)

    def matmul(self, a: Tensor, b: Tensor, *, out: Tensor) -> None:
        n = round(a.size**0.5)
        self.matmuls += 1
        self.gpu_s = max(self.gpu_s, self.wall_s) + 2 * n**3 / (self.tflops * 1e12)


class Tensor:
    def __init__(self, torch: FakeTorch, size: int) -> None:
        self.torch = torch
        self.size = size

    def fill_(self, value: int) -> None:
        pass

    def copy_(self, src: Tensor) -> None:
        t = self.torch
        t.gpu_s = max(t.gpu_s, t.wall_s) + 2 * src.size / (t.gbps * 1e9)


def test_it_measures_the_gpus_rates_within_its_time_budget() -> None:
    torch = FakeTorch(tflops=790.0, gbps=4300.0)
    result = measure(torch, 20.0, clock=torch.clock)
    assert result.burn_in is BurnIn.TORCH
    assert result.bf16_tflops == pytest.approx(790.0, rel=1e-6)
    assert result.memory_bandwidth_gbps == pytest.approx(4300.0, rel=1e-6)
    assert torch.dtypes == {"bfloat16"}
    assert 20.0 <= torch.wall_s <= 20.5  # each phase ends with the batch that crosses its time
    assert result.detail.startswith(
        "Fake H200, torch 2.11.0+fake; bf16 8192^3 matmul: median 790.0 TFLOPS of "
    )
    assert "; copy of 2.00 GiB: median 4300.0 GB/s of " in result.detail


def test_a_short_budget_still_measures_at_least_one_batch() -> None:
    torch = FakeTorch(tflops=50.0, gbps=300.0)  # a slow GPU: one product takes 22 ms
    result = measure(torch, 0.01, clock=torch.clock)
    assert result.bf16_tflops == pytest.approx(50.0, rel=1e-6)
    assert result.memory_bandwidth_gbps == pytest.approx(300.0, rel=1e-6)
    assert torch.wall_s < 1.0


def test_gpus_without_bf16_are_measured_in_fp16_and_say_so() -> None:
    torch = FakeTorch(tflops=100.0, gbps=900.0, major=7)
    result = measure(torch, 2.0, clock=torch.clock)
    assert torch.dtypes == {"float16"}
    assert "fp16 (compute capability 7.0: no BF16) 8192^3 matmul" in result.detail


def test_a_failure_keeps_what_was_measured_and_says_why() -> None:
    torch = FakeTorch(tflops=700.0, gbps=3000.0, free=0)
    result = measure(torch, 2.0, clock=torch.clock)
    assert result.bf16_tflops == pytest.approx(700.0, rel=1e-6)
    assert result.memory_bandwidth_gbps is None
    assert result.detail.endswith("failed: RuntimeError: only 0 bytes free for the copy buffers")


def test_a_device_that_fails_at_once_is_reported_not_crashed() -> None:
    torch = FakeTorch(tflops=700.0, gbps=3000.0)

    def broken(device: Any) -> None:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    torch.cuda.set_device = broken
    result = measure(torch, 2.0, clock=torch.clock)
    assert (result.burn_in, result.bf16_tflops, result.memory_bandwidth_gbps) == (
        BurnIn.TORCH,
        None,
        None,
    )
    assert result.detail == (
        "failed: RuntimeError: CUDA error: an illegal memory access was encountered"
    )
