"""Supplier adapters: how a purchase order reaches a supplier and how its delivery comes back.

One port (``base.SupplierAdapter``), one file per adapter, one registry. ``manual`` leaves
every step to a person; ``simulated`` confirms, ships and provisions fake nodes on its own after
the lead time, for demos and tests. A real cloud adapter is one more file here.
"""

from gpufleet.server.suppliers.base import (
    AdapterError,
    NodeDelivery,
    OrderView,
    Progress,
    Step,
    SupplierAdapter,
    adapter_names,
    open_adapter,
    register,
)

__all__ = [
    "AdapterError",
    "NodeDelivery",
    "OrderView",
    "Progress",
    "Step",
    "SupplierAdapter",
    "adapter_names",
    "open_adapter",
    "register",
]
