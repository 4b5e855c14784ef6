"""The port every supplier adapter plugs into, and the registry that names them.

An adapter is one file with one class registered under its name::

    @register("simulated")
    class SimulatedSupplier:
        def __init__(self, config: Mapping[str, Any]) -> None: ...  # ValueError names a bad key
        def submit(self, order: OrderView, now: datetime) -> Progress: ...
        def poll(self, order: OrderView, now: datetime) -> Progress: ...
        def cancel(self, order: OrderView, now: datetime) -> Progress: ...

Contract:

* Adapters are stateless between calls: what they must remember about an order goes back in
  ``Progress.adapter_state`` and comes in again as ``OrderView.adapter_state`` (the database
  keeps it), so a restarted server carries on where it stopped.
* ``Progress.steps`` are the supplier's news, in order, each with the time it happened (which
  may be before ``now``: a delivery noticed late still counts when it happened). The service
  walks the purchase-order state machine through them and records who (``adapter:NAME``).
* ``Progress.nodes`` accompany the ``delivered`` step: the machines that join the fleet.
* Adapters do no database work and are called outside any transaction (they may call a
  supplier's API). A refusal is ``AdapterError`` with the supplier's reason.
* ``automatic`` says whether ``poll`` can advance an order; ``unsupported`` lists what the
  adapter cannot do, each with the reason (declared, never discovered by trying).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from gpufleet.domain.purchase_order import PoState


class AdapterError(RuntimeError):
    """The supplier refused or could not be reached; the message says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderView:
    """What an adapter sees of a purchase order."""

    id: int
    supplier: str
    gpu: str
    units: int
    gpus_per_unit: int
    contract: str
    lead_time_days: float
    state: PoState
    submitted_at: datetime | None = None
    promised_at: datetime | None = None
    adapter_state: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeDelivery:
    """One machine the supplier delivered: its name and GPUs. ``faults`` (GPU index -> fault
    kind) exists only for simulated hardware: the simulated agent reports those GPUs broken."""

    name: str
    gpu: str
    gpus: int
    faults: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Step:
    """The order reached ``state`` at ``at``."""

    state: PoState
    at: datetime
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    steps: tuple[Step, ...] = ()
    nodes: tuple[NodeDelivery, ...] = ()
    adapter_state: Mapping[str, Any] | None = None
    """New adapter state to keep; ``None`` keeps the old."""


class SupplierAdapter(Protocol):
    name: ClassVar[str]
    automatic: ClassVar[bool]
    unsupported: ClassVar[Mapping[str, str]]

    def submit(self, order: OrderView, now: datetime) -> Progress: ...

    def poll(self, order: OrderView, now: datetime) -> Progress: ...

    def cancel(self, order: OrderView, now: datetime) -> Progress: ...


AdapterFactory = Callable[[Mapping[str, Any]], SupplierAdapter]

_REGISTRY: dict[str, AdapterFactory] = {}


def register(name: str) -> Callable[[AdapterFactory], AdapterFactory]:
    """Register an adapter class (or factory) under ``name`` (one per file)."""

    def decorate(factory: AdapterFactory) -> AdapterFactory:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            msg = f"supplier adapter {name!r} is registered twice"
            raise ValueError(msg)
        _REGISTRY[name] = factory
        return factory

    return decorate


def adapter_names() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def open_adapter(name: str, config: Mapping[str, Any] | None = None) -> SupplierAdapter:
    """The adapter registered as ``name`` with ``config``; ``ValueError`` for an unknown name
    or a bad config key (the message names it)."""
    _load_builtin()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        msg = f"unknown supplier adapter {name!r} (known: {', '.join(sorted(_REGISTRY))})"
        raise ValueError(msg) from None
    return factory(dict(config or {}))


def _load_builtin() -> None:
    # The built-in adapters register themselves on import (kept out of this port's imports).
    from gpufleet.server.suppliers import manual, simulated  # noqa: F401, PLC0415
