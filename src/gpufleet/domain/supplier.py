"""``Supplier``: who sells GPU capacity."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class SupplierKind(enum.StrEnum):
    CLOUD = "cloud"
    """A hyperscaler (AWS, GCP, Azure, OCI)."""
    NEOCLOUD = "neocloud"
    """A GPU-focused cloud (Lambda, CoreWeave, Nebius, ...)."""
    MARKETPLACE = "marketplace"
    """A market of other people's machines (Vast, ...): offers come and go."""
    COLOCATION = "colocation"
    """A partner selling capacity under a private contract."""
    OWNED = "owned"
    """Our own data center."""
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Supplier:
    id: str
    display_name: str
    kind: SupplierKind = SupplierKind.UNKNOWN
    source: str | None = None
    """Where the supplier's prices were read (a pricing page, a contract)."""
    as_of: str | None = None
    """Date the prices were read, ``YYYY-MM-DD``."""
