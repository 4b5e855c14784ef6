"""Pure domain types and their invariants: no I/O, no clock reads, no web or database imports."""

from gpufleet.domain.gpu import GpuModel
from gpufleet.domain.offer import ContractKind, Offer
from gpufleet.domain.supplier import Supplier, SupplierKind

__all__ = ["ContractKind", "GpuModel", "Offer", "Supplier", "SupplierKind"]
