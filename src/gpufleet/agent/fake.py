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

**A supplier that delivers bad GPUs** (``SourceOptions.fake_faults``, ``--fake-faults
"3=slow,5=ecc+hot"``): each listed GPU carries faults that show in discovery or in its
acceptance test, through the same paths a real GPU's would (``parse_fake_faults`` names the bad
part of a spec): ``wrong-model`` (it is, and reports, a lesser model: its family's next one down,
else its architecture's), ``small-memory`` (reports half its memory), and, during a burn-in,
``slow`` (about 40 % of spec), ``ecc`` (2 uncorrected ECC errors), ``xid`` (one XID 79) and
``hot`` (95 °C while loaded).

**Simulated burn-ins** (``burn_in_launcher``): a GPU under burn-in samples as busy, and the
result is ``simulated`` with figures drawn from ``Random(f"{seed}:{node}:burn-in:{index}")``:
BF16 TFLOPS spec x U(0.90, 0.97), bandwidth spec x U(0.88, 0.95) (a figure the spec lacks stays
``None``). Nothing waits: a burn-in has ended by its first ``poll``.
"""

from __future__ import annotations

import enum
import random
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from gpufleet.agent.burn_in import BurnInHandle, BurnInLauncher, BurnInResult
from gpufleet.agent.gpu_source import (
    GpuInfo,
    GpuSource,
    GpuSourceError,
    GpuTelemetry,
    SourceOptions,
    register,
)
from gpufleet.catalog.gpus import GpuTable, UnknownGpuError, gpu_table
from gpufleet.domain.acceptance import BurnIn
from gpufleet.domain.gpu import GpuModel

MAX_FAKE_GPUS = 1024
_PART = re.compile(r"^(?:(?P<count>\d+)\s*[xX*]\s*)?(?P<model>\S.*?)$")
_UUID_NAMESPACE = uuid.UUID("6f1c2a52-7a0e-4d4e-9a37-5b0f4f0b7a11")
_DEFAULT_TDP_W = 300.0
_IDLE_MEMORY_GIB = 0.5
_HOT_C = 95.0
_FAULT_ECC_ERRORS = 2
_FAULT_XID = 79


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


class FakeFault(enum.StrEnum):
    """What can be wrong with a delivered fake GPU (see the module docstring)."""

    SLOW = "slow"
    ECC = "ecc"
    XID = "xid"
    HOT = "hot"
    WRONG_MODEL = "wrong-model"
    SMALL_MEMORY = "small-memory"


FakeFaults = Mapping[int, frozenset[FakeFault]]


def parse_fake_faults(spec: str, gpu_count: int | None = None) -> dict[int, frozenset[FakeFault]]:
    """Parse ``INDEX=FAULT[+FAULT...][,...]`` (``3=slow,5=ecc+hot``; empty means none);
    ``FakeGpuSpecError`` names the bad part. ``gpu_count`` bounds the indices when known."""
    faults: dict[int, set[FakeFault]] = {}
    known = ", ".join(f.value for f in FakeFault)
    for part in (p.strip() for p in spec.split(",")):
        if not part and not spec.strip():
            continue
        index_text, sep, kinds = part.partition("=")
        index_text = index_text.strip()
        if not sep or not kinds.strip():
            msg = f"--fake-faults {spec!r}: cannot read {part!r}; expected INDEX=FAULT, e.g. 3=slow"
            raise FakeGpuSpecError(msg)
        if not index_text.isdigit():
            msg = f"--fake-faults {spec!r}: {index_text!r} in {part!r} is not a GPU index"
            raise FakeGpuSpecError(msg)
        index = int(index_text)
        if gpu_count is not None and index >= gpu_count:
            msg = f"--fake-faults {spec!r}: there is no GPU {index} (the node has {gpu_count})"
            raise FakeGpuSpecError(msg)
        for kind in (k.strip().lower() for k in kinds.split("+")):
            try:
                faults.setdefault(index, set()).add(FakeFault(kind))
            except ValueError:
                msg = f"--fake-faults {spec!r}: unknown fault {kind!r} for GPU {index} ({known})"
                raise FakeGpuSpecError(msg) from None
    return {i: frozenset(k) for i, k in sorted(faults.items())}


def lesser_model(model: GpuModel, table: GpuTable) -> GpuModel:
    """What a supplier might deliver instead of ``model``: the next model down (by dense TFLOPS,
    then memory) in its family, else in its architecture, with its specs known."""

    def rank(m: GpuModel) -> tuple[float, float]:
        return (m.dense_tflops or 0.0, m.memory_gib or 0.0)

    below = [
        m
        for m in table.models
        if m.vendor == model.vendor
        and m.memory_gib is not None
        and m.dense_tflops is not None
        and rank(m) < rank(model)
        and (m.form_factor == "superchip") == (model.form_factor == "superchip")
    ]
    for same in (model.family, model.architecture):
        kin = [m for m in below if same is not None and same in {m.family, m.architecture}]
        if kin:
            return max(kin, key=rank)
    msg = f"--fake-faults: no lesser model than {model.id} to deliver as wrong-model"
    raise FakeGpuSpecError(msg)


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
        count = sum(g.count for g in self.groups)
        self.delivery_faults: FakeFaults = parse_fake_faults(self.options.fake_faults, count)
        """The ``fake_faults`` per GPU index."""
        self.models: list[GpuModel] = []
        """What each GPU really is (a ``wrong-model`` GPU is the lesser model)."""
        self._gpus: list[GpuInfo] = []
        for group in self.groups:
            for _ in range(group.count):
                self._add(table.get(group.model), table)
        self._faults = [_Fault() for _ in self._gpus]
        self._loaded: set[int] = set()
        self.samples = 0
        """How many ``telemetry()`` calls so far (the ``k`` of the seeding rule)."""

    def _add(self, model: GpuModel, table: GpuTable) -> None:
        index = len(self._gpus)
        faults = self.delivery_faults.get(index, frozenset())
        if FakeFault.WRONG_MODEL in faults:
            model = lesser_model(model, table)
        memory_gib = float(model.memory_gib or 0.0)
        if FakeFault.SMALL_MEMORY in faults:
            memory_gib /= 2
        salt = f"{self.options.node_name}:{self.options.seed}:{index}"
        self.models.append(model)
        self._gpus.append(
            GpuInfo(
                index=index,
                model=model.id,
                name=model.name,
                memory_gib=memory_gib,
                uuid=f"GPU-{uuid.uuid5(_UUID_NAMESPACE, salt)}",
                simulated=True,
            )
        )

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

    # ------------------------------------------------------------------ burn-in
    def burn_in_launcher(self) -> BurnInLauncher:
        """Simulated burn-ins of these GPUs (see the module docstring)."""
        return _SimulatedLauncher(self)

    def set_loaded(self, index: int, *, loaded: bool) -> None:
        """GPU ``index`` runs a burn-in (samples busy; a ``hot`` GPU overheats) or not."""
        if loaded:
            self._loaded.add(self._check(index))
        else:
            self._loaded.discard(index)

    def _fault(self, index: int) -> _Fault:
        return self._faults[self._check(index)]

    def _check(self, index: int) -> int:
        if not 0 <= index < len(self._gpus):
            msg = f"no fake GPU {index} (this node has {len(self._gpus)})"
            raise IndexError(msg)
        return index

    def _sample(self, gpu: GpuInfo, sample: int, busy: bool) -> GpuTelemetry:
        rng = random.Random(f"{self.options.seed}:{sample}:{gpu.index}")  # noqa: S311 - simulation
        tdp_w = self.models[gpu.index].tdp_w or _DEFAULT_TDP_W
        busy = busy or gpu.index in self._loaded
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
        if gpu.index in self._loaded and FakeFault.HOT in self.delivery_faults.get(gpu.index, ()):
            temperature = _HOT_C
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


class _SimulatedLauncher:
    def __init__(self, source: FakeGpuSource) -> None:
        self.source = source

    def start(self, index: int, seconds: float) -> BurnInHandle:
        return _SimulatedBurnIn(self.source, index, seconds)


class _SimulatedBurnIn:
    """One simulated burn-in: loaded from ``start`` until the first ``poll``, which ends it."""

    def __init__(self, source: FakeGpuSource, index: int, seconds: float) -> None:
        self.source = source
        self.index = index
        self.seconds = seconds
        faults = source.delivery_faults.get(index, frozenset())
        source.set_loaded(index, loaded=True)
        if FakeFault.ECC in faults:
            source.inject_ecc(index, _FAULT_ECC_ERRORS)
        if FakeFault.XID in faults:
            source.inject_xid(index, _FAULT_XID)

    def poll(self) -> BurnInResult | None:
        self.source.set_loaded(self.index, loaded=False)
        options = self.source.options
        rng = random.Random(f"{options.seed}:{options.node_name}:burn-in:{self.index}")  # noqa: S311
        model = self.source.models[self.index]
        slow = FakeFault.SLOW in self.source.delivery_faults.get(self.index, ())
        tflops = rng.uniform(0.35, 0.45) if slow else rng.uniform(0.90, 0.97)
        bandwidth = rng.uniform(0.55, 0.65) if slow else rng.uniform(0.88, 0.95)
        return BurnInResult(
            BurnIn.SIMULATED,
            bf16_tflops=_scaled(model.dense_tflops, tflops),
            memory_bandwidth_gbps=_scaled(model.memory_bandwidth_gbps, bandwidth),
            detail=f"simulated {model.id}, {self.seconds:g} s burn-in not run on a device",
        )

    def kill(self) -> None:
        self.source.set_loaded(self.index, loaded=False)


def _scaled(spec: float | None, fraction: float) -> float | None:
    return None if spec is None else round(spec * fraction, 1)


@register("fake")
def open_fake(spec: str, options: SourceOptions) -> GpuSource:
    """Fake GPUs from a ``NxMODEL[,NxMODEL...]`` spec."""
    return FakeGpuSource(spec, options)
