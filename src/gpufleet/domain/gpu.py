"""``GpuModel``: a GPU type with its published specs.

Every figure comes from the vendor's public datasheet (see ``sources``); a figure the vendor does
not publish is ``None``, never guessed. Units are in the field names.
"""

from __future__ import annotations

from dataclasses import dataclass

NUMERIC_SPECS = (
    "memory_gib",
    "bf16_tflops",
    "fp16_tflops",
    "fp32_tflops",
    "memory_bandwidth_gbps",
    "tdp_w",
)
"""The spec fields that are numbers: positive when known, ``None`` when the vendor is silent."""


@dataclass(frozen=True, slots=True)
class GpuModel:
    """One GPU model, identified by a canonical id such as ``A100-80GB`` or ``H100-SXM``."""

    id: str
    vendor: str
    family: str
    name: str
    architecture: str | None
    form_factor: str | None
    memory_gib: float | None
    memory_type: str | None
    bf16_tflops: float | None
    """Dense (no sparsity) BF16 tensor TFLOPS; ``None`` when the GPU has no BF16."""
    fp16_tflops: float | None
    """Dense FP16 tensor TFLOPS (FP32 accumulate where the vendor distinguishes)."""
    fp32_tflops: float | None
    memory_bandwidth_gbps: float | None
    tdp_w: float | None
    interconnect: str | None
    sources: tuple[str, ...]
    notes: str
    aliases: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.id or any(c.isspace() for c in self.id):
            msg = f"GPU model id must be non-empty and contain no spaces, got {self.id!r}"
            raise ValueError(msg)
        for field in NUMERIC_SPECS:
            value = getattr(self, field)
            if value is not None and value <= 0:
                msg = f"GPU model {self.id}: {field} must be positive or unknown, got {value}"
                raise ValueError(msg)

    @property
    def dense_tflops(self) -> float | None:
        """Dense 16-bit tensor throughput: BF16 where supported, else FP16.

        This is the throughput gpufleet uses to compare models (price per TFLOP, substitution).
        """
        return self.bf16_tflops if self.bf16_tflops is not None else self.fp16_tflops

    @property
    def specs_disclosed(self) -> bool:
        """False for anonymised models (Alibaba's openb ``G2``/``G3``) whose specs are unknown."""
        return self.memory_gib is not None or self.dense_tflops is not None
