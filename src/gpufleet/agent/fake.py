"""Fake GPUs for machines without any: ``--fake-gpus 4xH100-SXM`` or ``2xA100-80GB,2xH100``.

The spec is ``NxMODEL[,NxMODEL...]`` (``N`` defaults to 1 when left out); each model must be in
the GPU table (any alias, any spelling) and is stored under its canonical id. Indices run in spec
order. Everything this source returns says ``simulated=True``.

Telemetry is deterministic: sample ``k`` of GPU ``i`` draws from ``Random(f"{seed}:{k}:{i}")``,
so the same seed, the same number of calls and the same busy GPUs give the same figures on any
machine. A GPU that runs a job (``SourceOptions.busy``) is hot and busy (85-100 %, most of its
memory, 62-78 °C, about 80 % of TDP); an idle one is cool and near 0 %.

Faults for tests and demos (``inject_ecc``, ``inject_xid``, ``inject_overheat``,
``clear_faults``) change what the next samples report for one GPU until cleared.
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass

from gpufleet.agent.gpu_source import (
    GpuInfo,
    GpuSource,
    GpuSourceError,
    GpuTelemetry,
    SourceOptions,
    register,
)
from gpufleet.catalog.gpus import GpuTable, UnknownGpuError, gpu_table

MAX_FAKE_GPUS = 1024
_PART = re.compile(r"^(?:(?P<count>\d+)\s*[xX*]\s*)?(?P<model>\S.*?)$")
_UUID_NAMESPACE = uuid.UUID("6f1c2a52-7a0e-4d4e-9a37-5b0f4f0b7a11")
_DEFAULT_TDP_W = 300.0
_IDLE_MEMORY_GIB = 0.5


class FakeGpuSpecError(GpuSourceError, ValueError):
    """A ``--fake-gpus`` spec that cannot be parsed or names an unknown GPU model."""


@dataclass(frozen=True, slots=True)
class FakeGpuGroup:
    """``count`` fake GPUs of one model (a canonical GPU-table id)."""

    count: int
    model: str


def parse_fake_gpus(spec: str, table: GpuTable | None = None) -> tuple[FakeGpuGroup, ...]:
    """Parse ``NxMODEL[,NxMODEL...]``; ``FakeGpuSpecError`` names the bad part and why."""
    table = table or gpu_table()
    parts = [p.strip() for p in spec.split(",")]
    if not spec.strip() or any(not p for p in parts):
        msg = f"--fake-gpus {spec!r}: expected NxMODEL[,NxMODEL...], e.g. 4xH100-SXM"
        raise FakeGpuSpecError(msg)
    groups: list[FakeGpuGroup] = []
    for part in parts:
        match = _PART.match(part)
        if match is None:  # pragma: no cover - the pattern matches any non-empty text
            msg = f"--fake-gpus {spec!r}: cannot read {part!r}; expected NxMODEL"
            raise FakeGpuSpecError(msg)
        count = int(match["count"]) if match["count"] is not None else 1
        if count < 1:
            msg = f"--fake-gpus {spec!r}: {part!r} asks for {count} GPUs; need at least 1"
            raise FakeGpuSpecError(msg)
        try:
            model = table.require(match["model"])
        except UnknownGpuError as exc:
            msg = f"--fake-gpus {spec!r}: {exc}"
            raise FakeGpuSpecError(msg) from None
        if model.memory_gib is None:
            msg = (
                f"--fake-gpus {spec!r}: {model.id} has no published memory size to simulate; "
                "pick a model with known specs"
            )
            raise FakeGpuSpecError(msg)
        groups.append(FakeGpuGroup(count, model.id))
    total = sum(g.count for g in groups)
    if total > MAX_FAKE_GPUS:
        msg = f"--fake-gpus {spec!r}: {total} GPUs is more than {MAX_FAKE_GPUS} on one node"
        raise FakeGpuSpecError(msg)
    return tuple(groups)


@dataclass(slots=True)
class _Fault:
    ecc_errors: int = 0
    xid_errors: int = 0
    last_xid: int | None = None
    temperature_c: float | None = None


class FakeGpuSource:
    """Simulated GPUs with seeded telemetry and injectable faults (see the module docstring)."""

    simulated = True

    def __init__(
        self,
        spec: str,
        options: SourceOptions | None = None,
        *,
        table: GpuTable | None = None,
    ) -> None:
        table = table or gpu_table()
        self.options = options or SourceOptions()
        self.groups = parse_fake_gpus(spec, table)
        self._gpus: list[GpuInfo] = []
        self._tdp_w: list[float] = []
        for group in self.groups:
            model = table.get(group.model)
            for _ in range(group.count):
                index = len(self._gpus)
                salt = f"{self.options.node_name}:{self.options.seed}:{index}"
                self._gpus.append(
                    GpuInfo(
                        index=index,
                        model=model.id,
                        name=model.name,
                        memory_gib=float(model.memory_gib or 0.0),
                        uuid=f"GPU-{uuid.uuid5(_UUID_NAMESPACE, salt)}",
                        simulated=True,
                    )
                )
                self._tdp_w.append(model.tdp_w or _DEFAULT_TDP_W)
        self._faults = [_Fault() for _ in self._gpus]
        self.samples = 0
        """How many ``telemetry()`` calls so far (the ``k`` of the seeding rule)."""

    def discover(self) -> list[GpuInfo]:
        return list(self._gpus)

    def telemetry(self) -> list[GpuTelemetry]:
        busy = set(self.options.busy())
        sample = self.samples
        self.samples += 1
        return [self._sample(gpu, sample, gpu.index in busy) for gpu in self._gpus]

    def close(self) -> None:
        """Nothing to release."""

    # ------------------------------------------------------------------ faults
    def inject_ecc(self, index: int, count: int = 1) -> None:
        """GPU ``index`` reports ``count`` more uncorrected ECC errors from the next sample on."""
        self._fault(index).ecc_errors += count

    def inject_xid(self, index: int, xid: int = 79) -> None:
        """GPU ``index`` reports one more XID event with this code (79: fallen off the bus)."""
        fault = self._fault(index)
        fault.xid_errors += 1
        fault.last_xid = xid

    def inject_overheat(self, index: int, temperature_c: float = 95.0) -> None:
        """GPU ``index`` reports ``temperature_c`` until ``clear_faults``."""
        self._fault(index).temperature_c = temperature_c

    def clear_faults(self, index: int | None = None) -> None:
        """Forget the faults of one GPU, or of all when ``index`` is None."""
        indices = range(len(self._gpus)) if index is None else [self._check(index)]
        for i in indices:
            self._faults[i] = _Fault()

    def _fault(self, index: int) -> _Fault:
        return self._faults[self._check(index)]

    def _check(self, index: int) -> int:
        if not 0 <= index < len(self._gpus):
            msg = f"no fake GPU {index} (this node has {len(self._gpus)})"
            raise IndexError(msg)
        return index

    def _sample(self, gpu: GpuInfo, sample: int, busy: bool) -> GpuTelemetry:
        rng = random.Random(f"{self.options.seed}:{sample}:{gpu.index}")  # noqa: S311 - simulation
        tdp_w = self._tdp_w[gpu.index]
        if busy:
            utilisation = rng.uniform(85.0, 100.0)
            memory_used = gpu.memory_gib * rng.uniform(0.55, 0.9)
            temperature = rng.uniform(62.0, 78.0)
            power = tdp_w * rng.uniform(0.7, 0.9)
        else:
            utilisation = rng.uniform(0.0, 3.0)
            memory_used = min(_IDLE_MEMORY_GIB, gpu.memory_gib)
            temperature = rng.uniform(30.0, 38.0)
            power = tdp_w * rng.uniform(0.08, 0.12)
        fault = self._faults[gpu.index]
        if fault.temperature_c is not None:
            temperature = fault.temperature_c
        return GpuTelemetry(
            index=gpu.index,
            utilisation_pct=round(utilisation, 1),
            memory_used_gib=round(memory_used, 2),
            temperature_c=round(temperature, 1),
            power_w=round(power, 1),
            ecc_errors=fault.ecc_errors,
            xid_errors=fault.xid_errors,
            last_xid=fault.last_xid,
            simulated=True,
        )


@register("fake")
def open_fake(spec: str, options: SourceOptions) -> GpuSource:
    """Fake GPUs from a ``NxMODEL[,NxMODEL...]`` spec."""
    return FakeGpuSource(spec, options)
