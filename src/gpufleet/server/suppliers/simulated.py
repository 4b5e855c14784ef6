"""``simulated``: a supplier that confirms, ships and delivers on its own, for demos and tests.

After submission it confirms after ``confirm_after_h`` hours, ships (``delivering``) once
``ship_at_fraction`` of the lead time has passed, and delivers at submission + lead time +
``delay_days`` — so a positive delay makes it late. Delivery is ``units`` nodes named
``SUPPLIER-poID-K`` with ``gpus_per_unit`` simulated GPUs each; ``failed_gpus`` of an order's
GPUs (chosen from ``seed`` and the order id) carry ``fault``, which the simulated agent reports
in its acceptance test (``slow``: burn-in far below spec; ``ecc``, ``xid``, ``hot``,
``wrong-model``, ``small-memory``). Every time is derived from the submission time, so polling
late changes nothing but when the news arrives. ``speedup`` runs the supplier's clock that many
times faster than real time (its delays and lead times divided by it) for demos: at 60480 a
week's lead time passes in ten seconds. The order's promised date stays the contract's.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from gpufleet.domain.purchase_order import PoState
from gpufleet.server.suppliers.base import (
    AdapterError,
    NodeDelivery,
    OrderView,
    Progress,
    Step,
    register,
)

FAULTS = ("slow", "ecc", "xid", "hot", "wrong-model", "small-memory")


@dataclass(frozen=True, slots=True)
class _Config:
    confirm_after_h: float = 1.0
    ship_at_fraction: float = 0.5
    delay_days: float = 0.0
    failed_gpus: int = 0
    fault: str = "slow"
    seed: int = 0
    speedup: float = 1.0


def _config(raw: Mapping[str, Any]) -> _Config:
    known = set(_Config.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        msg = f"adapter_config: unknown key(s) {unknown} for the simulated adapter (known: "
        raise ValueError(msg + ", ".join(sorted(known)) + ")")
    values: dict[str, Any] = {}
    for key, kind in (
        ("confirm_after_h", float),
        ("ship_at_fraction", float),
        ("delay_days", float),
        ("failed_gpus", int),
        ("seed", int),
        ("speedup", float),
    ):
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                msg = f"adapter_config.{key}: expected a number, got {value!r}"
                raise ValueError(msg)
            if kind is int and value != int(value):
                msg = f"adapter_config.{key}: expected a whole number, got {value!r}"
                raise ValueError(msg)
            values[key] = kind(value)
    config = _Config(**values, fault=str(raw.get("fault", "slow")))
    if config.confirm_after_h < 0 or config.delay_days < 0 or config.failed_gpus < 0:
        msg = "adapter_config: confirm_after_h, delay_days and failed_gpus must be >= 0"
        raise ValueError(msg)
    if config.speedup <= 0:
        msg = f"adapter_config.speedup: must be > 0, got {config.speedup}"
        raise ValueError(msg)
    if not 0 <= config.ship_at_fraction <= 1:
        msg = f"adapter_config.ship_at_fraction: must be in [0, 1], got {config.ship_at_fraction}"
        raise ValueError(msg)
    if config.fault not in FAULTS:
        msg = f"adapter_config.fault: {config.fault!r} is not one of {', '.join(FAULTS)}"
        raise ValueError(msg)
    return config


@register("simulated")
class SimulatedSupplier:
    name: ClassVar[str] = "simulated"
    automatic: ClassVar[bool] = True
    unsupported: ClassVar[Mapping[str, str]] = {
        "cancel after shipping": "simulated hardware in transit cannot be called back",
    }

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = _config(config)

    def submit(self, order: OrderView, now: datetime) -> Progress:
        return self.poll(order, now)

    def poll(self, order: OrderView, now: datetime) -> Progress:
        if order.submitted_at is None or not order.state.open:
            return Progress()
        steps = [step for step in self._milestones(order) if step.at <= now]
        order_index = [PoState.SUBMITTED, *(s.state for s in self._milestones(order))]
        done = order_index.index(order.state) if order.state in order_index else 0
        news = [s for s in steps if order_index.index(s.state) > done]
        delivered = any(s.state is PoState.DELIVERED for s in news)
        return Progress(steps=tuple(news), nodes=self._nodes(order) if delivered else ())

    def cancel(self, order: OrderView, now: datetime) -> Progress:
        del now
        if order.state in (PoState.DELIVERING, PoState.DELIVERED):
            msg = f"purchase order {order.id}: {self.unsupported['cancel after shipping']}"
            raise AdapterError(msg)
        return Progress()

    def _milestones(self, order: OrderView) -> list[Step]:
        assert order.submitted_at is not None  # noqa: S101 - poll checks it
        start = order.submitted_at
        fast = self.config.speedup
        lead = timedelta(days=order.lead_time_days / fast)
        delivered = start + lead + timedelta(days=self.config.delay_days / fast)
        confirmed = min(delivered, start + timedelta(hours=self.config.confirm_after_h / fast))
        shipping = start + lead * self.config.ship_at_fraction
        shipping = min(delivered, max(confirmed, shipping))
        late = f", {self.config.delay_days:g} days late" if self.config.delay_days else ""
        return [
            Step(PoState.CONFIRMED, confirmed, "confirmed by the simulated supplier"),
            Step(PoState.DELIVERING, shipping, "shipped"),
            Step(PoState.DELIVERED, delivered, f"{order.units} node(s) provisioned{late}"),
        ]

    def _nodes(self, order: OrderView) -> tuple[NodeDelivery, ...]:
        total = order.units * order.gpus_per_unit
        rng = random.Random(f"{self.config.seed}:{order.id}")  # noqa: S311 - a simulation
        bad = set(rng.sample(range(total), min(self.config.failed_gpus, total)))
        nodes = []
        for k in range(order.units):
            first = k * order.gpus_per_unit
            faults = {
                i - first: self.config.fault
                for i in range(first, first + order.gpus_per_unit)
                if i in bad
            }
            nodes.append(
                NodeDelivery(
                    name=f"{order.supplier}-po{order.id}-{k + 1}",
                    gpu=order.gpu,
                    gpus=order.gpus_per_unit,
                    faults=faults,
                )
            )
        return tuple(nodes)
