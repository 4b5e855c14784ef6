"""The port every GPU source plugs into: what a node has (``discover``) and how it is doing
(``telemetry``), plus the registry that names the sources.

A source is one file (``nvml.py``, ``fake.py``) with one factory registered under its name::

    @register("fake")
    def open_fake(spec: str, options: SourceOptions) -> GpuSource: ...

Every factory takes the same two arguments: ``spec`` (the source's own configuration string,
e.g. ``"4xH100-SXM"`` for fake GPUs; ignored by sources that need none) and ``SourceOptions``
(what the agent knows that a source may use). A source that cannot run on this machine raises
``GpuSourceError`` with the reason, never a bare library error.

Guarantees of a ``GpuSource``:

* ``discover()`` lists every GPU once, ordered by ``index`` (0..n-1, the index a job's
  ``CUDA_VISIBLE_DEVICES`` uses); ``model`` is a canonical id of the GPU table when the name
  resolves, else the name as the device reports it.
* ``telemetry()`` returns one sample per discovered GPU, same order; a counter the device does
  not support is ``None``, never a guessed 0.
* ``simulated`` is True for anything that is not a real device, and every ``GpuInfo`` and
  ``GpuTelemetry`` it returns carries the same flag.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class GpuInfo:
    """One GPU as the node discovered it."""

    index: int
    model: str
    """Canonical GPU-table id (``H100-SXM``) when the device name resolves, else the raw name."""
    name: str
    """The name the device (or the fake spec) gave."""
    memory_gib: float
    uuid: str
    simulated: bool


@dataclass(frozen=True, slots=True)
class GpuTelemetry:
    """One sample of one GPU. ``None`` means the device does not report that figure."""

    index: int
    utilisation_pct: float
    memory_used_gib: float
    temperature_c: float | None
    power_w: float | None
    ecc_errors: int | None = None
    """Uncorrected (double-bit) ECC errors since the driver loaded; ``None`` without ECC."""
    xid_errors: int | None = None
    """Critical XID events seen since the source opened; ``None`` where they cannot be watched."""
    last_xid: int | None = None
    """The code of the most recent XID event, if any."""
    simulated: bool = False


class GpuSource(Protocol):
    """Where GPU facts come from: real devices (NVML) or a simulation (fake)."""

    @property
    def simulated(self) -> bool: ...

    def discover(self) -> list[GpuInfo]: ...

    def telemetry(self) -> list[GpuTelemetry]: ...

    def close(self) -> None: ...


BusyProbe = Callable[[], Collection[int]]
"""Returns the GPU indices that currently run a job (the runner knows; a fake source uses it to
make utilisation follow the jobs; a real device measures it instead)."""


def _nobody_busy() -> Collection[int]:
    return ()


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """What the agent offers every source factory; a source uses what it needs."""

    node_name: str = "node"
    seed: int = 0
    busy: BusyProbe = field(default=_nobody_busy)
    fake_faults: str = ""
    """Faults a simulated source injects (``3=slow,5=ecc``: ``fake.py``); real ones ignore it."""


class GpuSourceError(RuntimeError):
    """This source cannot run here (no NVML library, no driver, bad spec); the message says why."""


SourceFactory = Callable[[str, SourceOptions], GpuSource]

_REGISTRY: dict[str, SourceFactory] = {}


def register(name: str) -> Callable[[SourceFactory], SourceFactory]:
    """Register a source factory under ``name`` (one per file)."""

    def decorate(factory: SourceFactory) -> SourceFactory:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            msg = f"GPU source {name!r} is registered twice"
            raise ValueError(msg)
        _REGISTRY[name] = factory
        return factory

    return decorate


def source_names() -> list[str]:
    """Names of the registered sources (importing the built-in ones first)."""
    _load_builtin()
    return sorted(_REGISTRY)


def open_source(name: str, spec: str = "", options: SourceOptions | None = None) -> GpuSource:
    """Open the source registered as ``name``; ``GpuSourceError`` if it cannot run here."""
    _load_builtin()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        msg = f"unknown GPU source {name!r} (known: {known})"
        raise GpuSourceError(msg) from None
    return factory(spec, options or SourceOptions())


def _load_builtin() -> None:
    # The built-in sources register themselves on import; importing here (not at module top)
    # keeps this port free of its adapters.
    from gpufleet.agent import fake, nvml  # noqa: F401, PLC0415
