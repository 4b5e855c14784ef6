"""The burn-in of one GPU: its dense BF16 matmul rate and its device memory bandwidth, measured
through PyTorch in a process of its own, reported as one JSON line.

The agent runs ``python -m gpufleet.agent.burn_in --seconds S --json`` once per GPU with
``CUDA_VISIBLE_DEVICES`` naming that GPU and ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, so the agent
itself never holds a CUDA context and keeps heartbeating; it samples temperature, power and the
error counters through its GPU source meanwhile. The line it prints is ``BurnInResult``'s JSON::

    {"burn_in": "torch", "bf16_tflops": 781.3, "memory_bandwidth_gbps": 4301.9, "detail": "..."}

Guarantees:

* It always prints exactly one JSON line and exits 0 when it could say something: no PyTorch,
  a CPU-only PyTorch or no visible CUDA device give ``"skipped"`` with the reason (and no
  figures); a CUDA error during a measurement gives ``"torch"`` with the figures measured before
  it and the error in ``detail`` (the judge fails a burn-in that ran but measured nothing).
* It keeps to ``--seconds``: two thirds for the matmul (the thermal and power load), one third
  for the copies, each phase a warm-up (its first quarter, at most 5 s, not counted) and then
  timed batches until the phase's time is up; a batch is sized to last about 50 ms. Only
  setting up (PyTorch's import, the CUDA context, the allocations) comes on top.
* **Matmul**: ``C = A @ B`` with 8192 x 8192 matrices of random normal values (zeros draw less
  power and run faster, which would flatter the GPU) in ``bfloat16`` (``float16`` on GPUs older
  than compute capability 8.0, which have no BF16 tensor cores; ``detail`` then says so). Three
  matrices of 128 MiB each fit any GPU. TFLOPS = 2 n^3 products / seconds / 10^12.
* **Bandwidth**: ``dst.copy_(src)`` between two device buffers of 2 GiB each (at most a quarter
  of the free memory each, so 16 GB GPUs fit), far larger than any L2 cache; GB/s counts the
  bytes read plus the bytes written, in decimal GB as datasheets quote them.
* Each batch is timed with CUDA events recorded on the stream around it, read after
  ``end.synchronize()``, so the time is the GPU's, not the Python loop's. The reported figure is
  the **median** over the timed batches: a sustained rate that a throttling GPU cannot hide
  behind a few fast batches at its coolest (the best batch would), and that one batch slowed by
  something else on the machine cannot drag down (the mean would). ``detail`` gives the
  minimum, the maximum and the number of batches.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gpufleet.domain.acceptance import BurnIn

MATRIX_SIZE = 8192
COPY_BYTES = 2 << 30
"""Bytes of each copy buffer (two are allocated), unless a quarter of the free memory is less."""
MATMUL_SHARE = 2 / 3
BATCH_S = 0.05
WARMUP_SHARE = 0.25
WARMUP_MAX_S = 5.0
MAX_BATCH = 10_000

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class BurnInResult:
    """What one GPU's burn-in gave (the JSON line, and the agent's view of a burn-in)."""

    burn_in: BurnIn
    bf16_tflops: float | None = None
    memory_bandwidth_gbps: float | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "burn_in": self.burn_in.value,
            "bf16_tflops": self.bf16_tflops,
            "memory_bandwidth_gbps": self.memory_bandwidth_gbps,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, data: object) -> BurnInResult:
        """Read the JSON line's object; ``ValueError`` names the bad field."""
        if not isinstance(data, dict):
            raise ValueError(f"burn-in result: expected an object, got {data!r}")
        kinds = [b.value for b in BurnIn]
        kind = data.get("burn_in")
        if not isinstance(kind, str) or kind not in kinds:
            raise ValueError(f"burn-in result.burn_in: expected one of {kinds}, got {kind!r}")
        figures: dict[str, float | None] = {}
        for key in ("bf16_tflops", "memory_bandwidth_gbps"):
            value = data.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise ValueError(f"burn-in result.{key}: expected a number or null, got {value!r}")
            figures[key] = None if value is None else float(value)
        detail = data.get("detail", "")
        return cls(
            burn_in=BurnIn(kind),
            bf16_tflops=figures["bf16_tflops"],
            memory_bandwidth_gbps=figures["memory_bandwidth_gbps"],
            detail=detail if isinstance(detail, str) else str(detail),
        )


def skipped(reason: str) -> BurnInResult:
    return BurnInResult(BurnIn.SKIPPED, detail=reason)


class BurnInHandle(Protocol):
    """A burn-in under way on one GPU."""

    def poll(self) -> BurnInResult | None:
        """The result once it has ended, else ``None`` (never blocks)."""
        ...

    def kill(self) -> None:
        """Stop it now (its result is then not asked for)."""
        ...


class BurnInLauncher(Protocol):
    """Starts burn-ins: real ones (a subprocess per GPU) or simulated ones (a fake source)."""

    def start(self, index: int, seconds: float) -> BurnInHandle: ...


# ---------------------------------------------------------------------- the measurement


def load_torch() -> tuple[Any, BurnInResult | None]:
    """PyTorch and a CUDA device it can use, or ``(None, skipped result with the reason)``."""
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return None, skipped("PyTorch not installed")
    except Exception as exc:  # noqa: BLE001 - a broken install is a reason to skip, not a crash
        return None, skipped(f"PyTorch cannot be imported: {type(exc).__name__}: {exc}")
    version = getattr(torch, "__version__", "?")
    if not torch.cuda.is_available() or torch.cuda.device_count() < 1:
        cuda = getattr(torch.version, "cuda", None) or getattr(torch.version, "hip", None)
        if cuda is None:
            return None, skipped(f"PyTorch {version} is a CPU-only build (no CUDA)")
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")
        return None, skipped(
            f"PyTorch {version} (CUDA {cuda}) sees no usable CUDA device "
            f"(CUDA_VISIBLE_DEVICES={visible})"
        )
    return torch, None


def measure(torch: Any, seconds: float, *, clock: Clock = time.perf_counter) -> BurnInResult:
    """Run both phases on CUDA device 0 within ``seconds`` (see the module docstring)."""
    notes: list[str] = []
    tflops: float | None = None
    bandwidth: float | None = None
    try:
        device = torch.device("cuda", 0)
        torch.cuda.set_device(device)
        props = torch.cuda.get_device_properties(device)
        notes.append(f"{props.name}, torch {torch.__version__}")
        tflops, note = _matmul_tflops(torch, device, props, seconds * MATMUL_SHARE, clock)
        notes.append(note)
        bandwidth, note = _copy_gbps(torch, device, seconds * (1 - MATMUL_SHARE), clock)
        notes.append(note)
    except Exception as exc:  # noqa: BLE001 - a failing GPU is a finding, reported in detail
        notes.append(f"failed: {type(exc).__name__}: {str(exc).strip()[:300]}")
    return BurnInResult(BurnIn.TORCH, tflops, bandwidth, "; ".join(notes))


def _matmul_tflops(
    torch: Any, device: Any, props: Any, phase_s: float, clock: Clock
) -> tuple[float, str]:
    bf16 = props.major >= 8
    dtype = torch.bfloat16 if bf16 else torch.float16
    n = MATRIX_SIZE
    torch.manual_seed(0)
    a = torch.randn((n, n), device=device, dtype=dtype)
    b = torch.randn((n, n), device=device, dtype=dtype)
    c = torch.empty((n, n), device=device, dtype=dtype)

    def work() -> None:
        torch.matmul(a, b, out=c)

    rates = _timed_batches(torch, work, phase_s, clock)  # the tensors go when this returns
    tflops = [2.0 * n**3 * k / s / 1e12 for k, s in rates]
    kind = "bf16" if bf16 else f"fp16 (compute capability {props.major}.{props.minor}: no BF16)"
    return statistics.median(tflops), f"{kind} {n}^3 matmul: {_spread(tflops, 'TFLOPS')}"


def _copy_gbps(torch: Any, device: Any, phase_s: float, clock: Clock) -> tuple[float, str]:
    torch.cuda.empty_cache()  # hand the matmul's freed blocks back before asking what is free
    free_bytes, _total = torch.cuda.mem_get_info(device)
    nbytes = min(COPY_BYTES, free_bytes // 4) // (1 << 20) * (1 << 20)
    if nbytes <= 0:
        raise RuntimeError(f"only {free_bytes} bytes free for the copy buffers")
    src = torch.empty(nbytes, dtype=torch.uint8, device=device)
    src.fill_(0x5A)
    dst = torch.empty_like(src)

    def work() -> None:
        dst.copy_(src)

    rates = _timed_batches(torch, work, phase_s, clock)
    gbps = [2.0 * nbytes * k / s / 1e9 for k, s in rates]
    gib = nbytes / (1 << 30)
    return statistics.median(gbps), f"copy of {gib:.2f} GiB: {_spread(gbps, 'GB/s')}"


def _timed_batches(
    torch: Any, work: Callable[[], None], phase_s: float, clock: Clock
) -> list[tuple[int, float]]:
    """``(repetitions, GPU seconds)`` per timed batch, after a warm-up (module docstring)."""
    started = clock()
    work()  # the first call picks kernels and allocates workspace: never timed
    torch.cuda.synchronize()
    single_s = _time_batch(torch, work, 1)
    batch = max(1, min(MAX_BATCH, round(BATCH_S / max(single_s, 1e-9))))
    warmup_until = started + min(WARMUP_SHARE * phase_s, WARMUP_MAX_S)
    while clock() < warmup_until:
        _time_batch(torch, work, batch)
    timed: list[tuple[int, float]] = []
    deadline = started + phase_s
    while not timed or clock() < deadline:
        timed.append((batch, _time_batch(torch, work, batch)))
    return timed


def _time_batch(torch: Any, work: Callable[[], None], repetitions: int) -> float:
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repetitions):
        work()
    end.record()
    end.synchronize()
    return max(float(start.elapsed_time(end)) / 1000.0, 1e-9)  # milliseconds -> seconds


def _spread(values: Sequence[float], unit: str) -> str:
    return (
        f"median {statistics.median(values):.1f} {unit} of {len(values)} batches "
        f"(min {min(values):.1f}, max {max(values):.1f})"
    )


def run(seconds: float, *, clock: Clock = time.perf_counter) -> BurnInResult:
    """The whole burn-in: PyTorch and a device if there are any, then ``measure``."""
    torch, reason = load_torch()
    if reason is not None:
        return reason
    return measure(torch, seconds, clock=clock)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gpufleet.agent.burn_in",
        description="Measure this process's first CUDA GPU: BF16 matmul TFLOPS and copy GB/s.",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="time budget (default 20)")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args(argv)
    if not args.seconds > 0:
        parser.error(f"--seconds must be > 0, got {args.seconds}")
    result = run(args.seconds)
    if args.json:
        sys.stdout.write(json.dumps(result.to_json()) + "\n")
    else:
        tflops, gbps = result.bf16_tflops, result.memory_bandwidth_gbps
        sys.stdout.write(
            f"burn-in: {result.burn_in.value}\n"
            f"bf16_tflops: {'-' if tflops is None else f'{tflops:.1f}'}\n"
            f"memory_bandwidth_gbps: {'-' if gbps is None else f'{gbps:.1f}'}\n"
            f"detail: {result.detail}\n"
        )
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
