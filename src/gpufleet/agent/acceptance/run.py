"""One acceptance test of some of this node's GPUs: burn them in, watch them meanwhile, and
return one ``GpuCheck`` per requested GPU (``docs/api.md``, issue 7).

``run_acceptance`` guarantees:

* One ``GpuCheck`` per requested index, in the order asked; an index the node does not have
  gets a check with an empty model and ``detail`` saying so (the judge fails it).
* All requested GPUs burn in **at once** (the node's power and cooling are tested under full
  load, and an 8-GPU node takes as long as one). Until every burn-in has ended it samples the
  GPU source every ``sample_s`` for the maximum temperature and power, waiting only through
  the injected ``wait``; time comes only from the injected ``clock``.
* ``ecc_errors`` and ``xid_errors`` are the source's counters after the test minus before it:
  ``None`` when either sample lacks the counter, or when it went backwards (a driver reload
  reset it), never a guessed 0.
* A burn-in still running ``startup_s`` after its ``burn_in_s`` is killed and reported as ran
  and measured nothing (with the reason); one that could not be started likewise. A test asked
  for with ``burn_in_s <= 0`` skips the burn-in and only reads the counters.
* ``stopping()`` turning true (the agent shuts down) kills the burn-ins and raises
  ``AcceptanceCancelled``: a cancelled test reports nothing.

Where a burn-in comes from: a source that simulates its GPUs offers its own launcher
(``SimulatesBurnIn``, the fake source); for real GPUs it is ``SubprocessBurnIn``, one
``python -m gpufleet.agent.burn_in`` process per GPU, so the agent never holds a CUDA context.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

import gpufleet
from gpufleet.agent.burn_in import BurnInHandle, BurnInLauncher, BurnInResult
from gpufleet.agent.gpu_source import GpuInfo, GpuSource, GpuTelemetry
from gpufleet.domain.acceptance import BurnIn, GpuCheck

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Wait = Callable[[float], object]
Sampler = Callable[[], Sequence[GpuTelemetry]]


class AcceptanceCancelled(Exception):  # noqa: N818 - it is an outcome, not an error
    """The test was stopped before it ended (the agent is shutting down)."""


@dataclass(frozen=True, slots=True)
class AcceptanceTiming:
    """How often to sample, and how long a burn-in may take beyond its own budget."""

    sample_s: float = 1.0
    startup_s: float = 120.0
    """Importing PyTorch and creating a CUDA context can take tens of seconds on a cold node."""


@runtime_checkable
class SimulatesBurnIn(Protocol):
    """A GPU source that simulates its own burn-ins (declared, not guessed from its name)."""

    def burn_in_launcher(self) -> BurnInLauncher: ...


def launcher_for(source: GpuSource) -> BurnInLauncher:
    """The source's own simulated burn-ins, else real ones through PyTorch."""
    if isinstance(source, SimulatesBurnIn):
        return source.burn_in_launcher()
    return SubprocessBurnIn()


@dataclass
class _Watch:
    """What the samples of one GPU showed during the test."""

    max_temperature_c: float | None = None
    max_power_w: float | None = None

    def add(self, sample: GpuTelemetry) -> None:
        self.max_temperature_c = _max(self.max_temperature_c, sample.temperature_c)
        self.max_power_w = _max(self.max_power_w, sample.power_w)


def run_acceptance(
    gpus: Sequence[GpuInfo],
    sample: Sampler,
    launcher: BurnInLauncher,
    indices: Sequence[int],
    burn_in_s: float,
    *,
    clock: Clock = time.monotonic,
    wait: Wait = time.sleep,
    timing: AcceptanceTiming | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> list[GpuCheck]:
    """Test the GPUs ``indices`` of ``gpus`` (see the module docstring)."""
    timing = timing or AcceptanceTiming()
    present = {g.index: g for g in gpus}
    tested = list(dict.fromkeys(i for i in indices if i in present))
    watch = {i: _Watch() for i in tested}
    before = _by_index(_safe(sample))
    burn_ins = _BurnIns(launcher, tested, burn_in_s)
    deadline = clock() + burn_in_s + timing.startup_s
    while True:
        for reading in _safe(sample):
            if reading.index in watch:
                watch[reading.index].add(reading)
        if not burn_ins.poll():
            break
        if stopping():
            burn_ins.kill(None)
            raise AcceptanceCancelled
        if clock() >= deadline:
            burn_ins.kill(f"did not end within {burn_in_s + timing.startup_s:.0f} s; stopped")
            break
        wait(timing.sample_s)
    after = _by_index(_safe(sample))
    for index, reading in after.items():
        if index in watch:
            watch[index].add(reading)
    return [
        _check(present[i], burn_ins.results[i], watch[i], before.get(i), after.get(i))
        if i in present
        else _missing(i)
        for i in indices
    ]


class _BurnIns:
    """The burn-ins of one test: started together, polled together."""

    def __init__(self, launcher: BurnInLauncher, indices: Sequence[int], seconds: float) -> None:
        self.results: dict[int, BurnInResult] = {}
        self.handles: dict[int, BurnInHandle] = {}
        for index in indices:
            if seconds <= 0:
                self.results[index] = BurnInResult(BurnIn.SKIPPED, detail="no burn-in asked for")
                continue
            try:
                self.handles[index] = launcher.start(index, seconds)
            except Exception as exc:
                log.exception("GPU %d: the burn-in could not be started", index)
                self.results[index] = BurnInResult(BurnIn.TORCH, detail=f"could not start: {exc}")

    def poll(self) -> list[int]:
        """Collect the results that came in; the indices still running."""
        for index in self.running():
            result = self.handles[index].poll()
            if result is not None:
                self.results[index] = result
        return self.running()

    def running(self) -> list[int]:
        return [i for i in self.handles if i not in self.results]

    def kill(self, reason: str | None) -> None:
        """Stop every running burn-in; ``reason`` becomes its result's detail."""
        for index in self.running():
            try:
                self.handles[index].kill()
            except Exception:
                log.exception("GPU %d: could not stop its burn-in", index)
            if reason is not None:
                self.results[index] = BurnInResult(BurnIn.TORCH, detail=reason)


def _check(
    gpu: GpuInfo,
    result: BurnInResult,
    watch: _Watch,
    before: GpuTelemetry | None,
    after: GpuTelemetry | None,
) -> GpuCheck:
    return GpuCheck(
        index=gpu.index,
        name=gpu.name,
        model=gpu.model,
        memory_gib=gpu.memory_gib,
        uuid=gpu.uuid,
        ecc_errors=_growth(before, after, "ecc_errors"),
        xid_errors=_growth(before, after, "xid_errors"),
        max_temperature_c=watch.max_temperature_c,
        max_power_w=watch.max_power_w,
        burn_in=result.burn_in,
        bf16_tflops=result.bf16_tflops,
        memory_bandwidth_gbps=result.memory_bandwidth_gbps,
        detail=result.detail,
    )


def _missing(index: int) -> GpuCheck:
    return GpuCheck(
        index=index,
        name="",
        model="",
        memory_gib=0.0,
        uuid="",
        ecc_errors=None,
        xid_errors=None,
        max_temperature_c=None,
        max_power_w=None,
        burn_in=BurnIn.SKIPPED,
        bf16_tflops=None,
        memory_bandwidth_gbps=None,
        detail=f"this node has no GPU {index}",
    )


def _growth(before: GpuTelemetry | None, after: GpuTelemetry | None, counter: str) -> int | None:
    start = None if before is None else getattr(before, counter)
    end = None if after is None else getattr(after, counter)
    if start is None or end is None or end < start:
        return None
    return int(end - start)


def _max(current: float | None, value: float | None) -> float | None:
    if value is None:
        return current
    return value if current is None else max(current, value)


def _safe(sample: Sampler) -> Sequence[GpuTelemetry]:
    try:
        return sample()
    except Exception:  # a failing sensor must not end the test; the checks say "unknown"
        log.exception("GPU telemetry failed during the acceptance test")
        return []


def _by_index(samples: Sequence[GpuTelemetry]) -> dict[int, GpuTelemetry]:
    return {s.index: s for s in samples}


# ---------------------------------------------------------------------- real burn-ins

_PACKAGE_ROOT = str(Path(gpufleet.__file__).resolve().parents[1])


@dataclass(frozen=True, slots=True)
class SubprocessBurnIn:
    """Real burn-ins: ``python -m gpufleet.agent.burn_in --seconds S --json`` per GPU, with
    ``CUDA_VISIBLE_DEVICES`` set to its index and ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` (so CUDA's
    device 0 is NVML's GPU ``index``), and this gpufleet first on ``PYTHONPATH``."""

    python: str = sys.executable
    environ: Mapping[str, str] | None = None
    """The environment to start from (this process's when None)."""

    def start(self, index: int, seconds: float) -> BurnInHandle:
        env = dict(os.environ if self.environ is None else self.environ)
        env["CUDA_VISIBLE_DEVICES"] = str(index)
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join([_PACKAGE_ROOT, *paths])
        command = [
            self.python,
            "-m",
            "gpufleet.agent.burn_in",
            "--seconds",
            f"{seconds:g}",
            "--json",
        ]
        # Files, not pipes, so a chatty child cannot block; _ProcessBurnIn closes them.
        stdout = tempfile.TemporaryFile()  # noqa: SIM115
        stderr = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            process = subprocess.Popen(  # noqa: S603 - our own module, no shell
                command,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=env,
            )
        except OSError:
            stdout.close()
            stderr.close()
            raise
        return _ProcessBurnIn(process, stdout, stderr)


class _ProcessBurnIn:
    def __init__(self, process: subprocess.Popen[bytes], stdout: IO[bytes], stderr: IO[bytes]):
        self.process = process
        self.stdout = stdout
        self.stderr = stderr

    def poll(self) -> BurnInResult | None:
        code = self.process.poll()
        if code is None:
            return None
        out, err = self._read()
        for line in reversed(out.splitlines()):
            if line.startswith("{"):
                try:
                    return BurnInResult.from_json(json.loads(line))
                except ValueError as exc:
                    return BurnInResult(BurnIn.TORCH, detail=f"unreadable result: {exc}")
        last = next((s for s in reversed(err.splitlines()) if s.strip()), "no output")
        return BurnInResult(
            BurnIn.TORCH, detail=f"the burn-in process exited {code} without a result: {last}"
        )

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()
        self._read()

    def _read(self) -> tuple[str, str]:
        texts = []
        for stream in (self.stdout, self.stderr):
            if stream.closed:
                texts.append("")
                continue
            stream.seek(0)
            texts.append(stream.read().decode("utf-8", "replace"))
            stream.close()
        return texts[0], texts[1]
