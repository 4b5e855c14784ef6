"""``manual``: a person carries every step out and records it (``POST
/purchase-orders/{id}/transition``, ``.../deliver``). The adapter itself never moves an order:
it is how contracts signed by e-mail and servers shipped on pallets enter gpufleet."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from gpufleet.server.suppliers.base import OrderView, Progress, register


@register("manual")
class ManualSupplier:
    name: ClassVar[str] = "manual"
    automatic: ClassVar[bool] = False
    unsupported: ClassVar[Mapping[str, str]] = {
        "automatic progress": "a person confirms, ships and delivers each order by hand",
        "provisioning": "delivered machines run `gpufleet agent` with a token an admin makes",
    }

    def __init__(self, config: Mapping[str, Any]) -> None:
        if config:
            msg = f"adapter_config: the manual adapter takes no settings, got {sorted(config)}"
            raise ValueError(msg)

    def submit(self, order: OrderView, now: datetime) -> Progress:
        del order, now
        return Progress()

    def poll(self, order: OrderView, now: datetime) -> Progress:
        del order, now
        return Progress()

    def cancel(self, order: OrderView, now: datetime) -> Progress:
        del order, now
        return Progress()
