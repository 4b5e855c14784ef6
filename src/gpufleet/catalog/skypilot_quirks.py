"""Per-provider corrections for SkyPilot-format ``vms.csv`` files, in one place.

Each table says what it fixes and why; ``../shared/data/catalog/README.md`` documents the quirks.
The loader (``skypilot.py``) stays generic and consults these tables by supplier id.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

from gpufleet.catalog.gpuinfo import GpuInfo


class MemoryUnit(enum.Enum):
    """What a provider's ``MemoryInfo.SizeInMiB`` really holds."""

    MIB_PER_GPU = "MiB per GPU"
    GB_PER_GPU = "GB per GPU"
    """RunPod and Shadeform write gigabytes into ``SizeInMiB``."""
    MIB_NODE_TOTAL = "MiB for the whole node"
    """Vast and PrimeIntellect write the node total into the per-GPU field."""


MEMORY_UNITS: Mapping[str, MemoryUnit] = {
    "runpod": MemoryUnit.GB_PER_GPU,
    "shadeform": MemoryUnit.GB_PER_GPU,
    "vast": MemoryUnit.MIB_NODE_TOTAL,
    "primeintellect": MemoryUnit.MIB_NODE_TOTAL,
}

_PLAUSIBLE_GPU_MEMORY_GIB = (1.0, 512.0)
"""A per-GPU memory outside this range is a unit error or a placeholder (Seeweb writes 0)."""


def per_gpu_memory_gib(supplier: str, info: GpuInfo | None, gpus: float) -> float | None:
    """Per-GPU memory in GiB as the provider reports it, or ``None`` when it cannot be trusted."""
    if info is None or info.memory_mib is None or info.memory_mib <= 0:
        return None
    unit = MEMORY_UNITS.get(supplier, MemoryUnit.MIB_PER_GPU)
    if unit is MemoryUnit.GB_PER_GPU:
        gib = info.memory_mib
    elif unit is MemoryUnit.MIB_NODE_TOTAL:
        gib = info.memory_mib / 1024 / max(gpus, 1.0)
    else:
        gib = info.memory_mib / 1024
    low, high = _PLAUSIBLE_GPU_MEMORY_GIB
    return gib if low <= gib <= high else None


@dataclass(frozen=True, slots=True)
class CountFix:
    gpus: float
    reason: str


GPU_COUNT_FIXES: Mapping[tuple[str, str], CountFix] = {
    ("azure", "Standard_ND96isr_H100_v5"): CountFix(
        8, "SkyPilot's Azure v6 catalog lists 12 GPUs; the ND H100 v5 VM has 8"
    ),
}


@dataclass(frozen=True, slots=True)
class UnnamedGpu:
    """The GPU of an instance type whose catalog row leaves ``AcceleratorName`` empty."""

    gpu: str
    gpus: float


UNNAMED_GPUS: Mapping[tuple[str, str], UnnamedGpu] = {
    # NCC H100 v5: confidential-computing VM with one H100 NVL (94 GB), as NC H100 v5.
    ("azure", "Standard_NCC40ads_H100_v5"): UnnamedGpu("H100-NVL", 1),
}

GPU_SKU_PATTERNS: Mapping[str, re.Pattern[str]] = {
    # Every Azure N-family SKU carries an accelerator; an empty name there is not a CPU VM.
    "azure": re.compile(r"^Standard_N[CDGV]"),
}
"""Instance types known to carry an accelerator even when the catalog names none: such rows are
reported as unknown GPUs, not skipped as CPU-only."""

GPU_NAME_OVERRIDES: Mapping[str, tuple[tuple[re.Pattern[str], str], ...]] = {
    # Azure names the NC H100 v5 GPU plain "H100"; it is the 94 GB H100 NVL (NC40ads, NC80adis).
    "azure": ((re.compile(r"^Standard_NC\d+a[a-z]*_H100_v5$"), "H100-NVL"),),
}

SPOT_EQUALS_PRICE_IS_PLACEHOLDER: frozenset[str] = frozenset({"azure", "runpod"})
"""Providers whose ``SpotPrice`` copies ``Price`` where no spot market exists (Azure H100 v5,
every RunPod row). A spot price equal to the on-demand price there means "no spot offer"."""

SPOT_ZERO_IS_PLACEHOLDER = True
"""A ``SpotPrice`` of 0 (Vast writes 0.00 everywhere) means "no spot price", never "free"."""

PLACEHOLDER_PRICES: frozenset[float] = frozenset({700.0})
"""GCP TPU rows carry 700.0 where no price was known; such a price is treated as missing."""

NON_GPU_ACCELERATORS = re.compile(r"^tpu-", re.IGNORECASE)
"""Accelerators gpufleet does not schedule (GCP TPUs); their rows are skipped and counted."""


# --- GCP: the GPU price is a separate row, added to its host VM row -----------------------------

_GCP_L4_PER_G2 = {4: 1, 8: 1, 12: 1, 16: 1, 24: 2, 32: 1, 48: 4, 96: 8}

_GCP_HOSTS: tuple[tuple[re.Pattern[str], str, int | None], ...] = (
    (re.compile(r"^a2-highgpu-(\d+)g$"), "A100", None),
    (re.compile(r"^a2-megagpu-16g$"), "A100", 16),
    (re.compile(r"^a2-ultragpu-(\d+)g$"), "A100-80GB", None),
    (re.compile(r"^a3-highgpu-(\d+)g$"), "H100", None),
    (re.compile(r"^a3-edgegpu-8g(-nolssd)?$"), "H100", 8),
    (re.compile(r"^a3-megagpu-8g$"), "H100-MEGA", 8),
    (re.compile(r"^a3-ultragpu-8g(-nolssd)?$"), "H200", 8),
    (re.compile(r"^a4-highgpu-8g$"), "B200", 8),
)


def gcp_host_accelerator(instance_type: str) -> tuple[str, int] | None:
    """The GPU name and count a GCP host VM type is sold with, or ``None`` for other VMs.

    GCP's catalog lists the host VM (``a3-highgpu-8g``) without its GPUs and the GPUs as a
    separate row with an empty ``InstanceType``; the offer's price is the sum of the two.
    """
    for pattern, name, fixed in _GCP_HOSTS:
        match = pattern.match(instance_type)
        if match:
            return name, fixed if fixed is not None else int(match.group(1))
    g2 = re.match(r"^g2-standard-(\d+)$", instance_type)
    if g2 and int(g2.group(1)) in _GCP_L4_PER_G2:
        return "L4", _GCP_L4_PER_G2[int(g2.group(1))]
    return None
