"""Factories for test objects: one place that knows how to build a valid one."""

from __future__ import annotations

from typing import Any

from gpufleet.domain.gpu import GpuModel
from gpufleet.domain.offer import ContractKind, Offer
from gpufleet.planning.problem import CapacityOption


def make_offer(**overrides: Any) -> Offer:
    fields: dict[str, Any] = {
        "supplier": "acme",
        "instance_type": "gpu.8x",
        "gpu": "H100-SXM",
        "gpus_per_unit": 8.0,
        "contract": ContractKind.ON_DEMAND,
        "price_usd_per_hour": 16.0,
        "region": "us-east-1",
    }
    fields.update(overrides)
    return Offer(**fields)


def make_model(**overrides: Any) -> GpuModel:
    fields: dict[str, Any] = {
        "id": "X100",
        "vendor": "NVIDIA",
        "family": "X100",
        "name": "NVIDIA X100",
        "architecture": "Test",
        "form_factor": "SXM5",
        "memory_gib": 80.0,
        "memory_type": "HBM3",
        "bf16_tflops": 1000.0,
        "fp16_tflops": 1000.0,
        "fp32_tflops": 60.0,
        "memory_bandwidth_gbps": 3000.0,
        "tdp_w": 700.0,
        "interconnect": "NVLink",
        "sources": ("https://example.com/datasheet",),
        "notes": "",
        "aliases": (),
    }
    fields.update(overrides)
    return GpuModel(**fields)


def make_option(name: str, contract: ContractKind, **overrides: Any) -> CapacityOption:
    """A planning option named after its own supplier: one GPU per unit at $1 an hour."""
    fields: dict[str, Any] = {
        "name": name,
        "supplier": name,
        "gpus_per_unit": 1.0,
        "contract": contract,
        "price_usd_per_unit_hour": 1.0,
    }
    fields.update(overrides)
    return CapacityOption(**fields)
