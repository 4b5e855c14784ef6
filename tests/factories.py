"""Factories for test objects: one place that knows how to build a valid one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gpufleet.domain.gpu import GpuModel
from gpufleet.domain.offer import ContractKind, Offer
from gpufleet.planning.problem import CapacityOption
from gpufleet.scheduling.core import NOT_RUNNING, Context

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]


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


def random_context(seed: int) -> Context:
    """A scheduling context for property tests: up to 40 jobs on 1-3 types; about half run,
    where they can run, even beyond what their type holds now (GPUs lost); priorities, three
    projects with quotas and a weight, CPU."""
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(0, 40)), int(rng.integers(1, 4))
    rates = rng.choice([0.0, 0.5, 1.0, 2.0], (n, k))
    current = np.where(rng.random(n) < 0.5, rng.integers(0, k, n), NOT_RUNNING)
    current[rates[np.arange(n), np.maximum(current, 0)] == 0] = NOT_RUNNING
    ran_s = rng.choice([0.0, 50.0, 500.0, 5000.0], (n, k))
    gpus = rng.choice([1, 1, 2, 4, 8], n)
    return Context(
        now=10000.0, round_s=100.0, gpu_types=tuple(f"t{w}" for w in range(k)),
        capacity=rng.integers(0, 12, k), job_id=rng.permutation(n).astype(np.int64) * 7,
        gpus=gpus, throughput=rates, remaining_steps=rng.uniform(1.0, 1e4, n),
        arrival_s=rng.choice([0.0, 10.0, 20.0], n), attained_gpu_s=ran_s.sum(1) * gpus,
        time_on_type=ran_s, current_type=current, priority=rng.integers(0, 3, n),
        project=rng.integers(0, 3, n),
        projects=("a", "b", "c"),
        quota={"a": rng.integers(0, 4, k), "b": rng.integers(0, 4, k)}, weight={"c": 2.0},
        cpu_milli=rng.choice([0.0, 1000.0], n), cpu_capacity_milli=float(rng.choice([0, 8000])),
    )  # fmt: skip


def make_context(
    capacity: list[int],
    n: int,
    *,
    now: float = 0.0,
    gpus: list[int] | None = None,
    throughput: list[list[float]] | None = None,
    remaining: float | list[float] = 100.0,
    arrival: list[float] | None = None,
    current: list[int] | None = None,
    **extra: Any,
) -> Context:
    """``n`` jobs on ``len(capacity)`` GPU types (``t0``, ``t1``...), 100-s rounds: by default
    each needs 1 GPU, runs 1 step/s everywhere, has 100 steps left, arrived in id order, has
    run nowhere and waits. ``extra`` sets any other ``Context`` field."""
    k = len(capacity)
    fields: dict[str, Any] = {
        "now": now,
        "round_s": 100.0,
        "gpu_types": tuple(f"t{w}" for w in range(k)),
        "capacity": np.array(capacity, dtype=np.int64),
        "job_id": np.arange(n, dtype=np.int64),
        "gpus": np.array(gpus or [1] * n, dtype=np.int64),
        "throughput": np.array(throughput or [[1.0] * k] * n, dtype=float).reshape(n, k),
        "remaining_steps": np.broadcast_to(np.asarray(remaining, dtype=float), (n,)).copy(),
        "arrival_s": np.array(arrival or list(range(n)), dtype=float),
        "attained_gpu_s": np.zeros(n),
        "time_on_type": np.zeros((n, k)),
        "current_type": np.array(current or [NOT_RUNNING] * n, dtype=np.int64),
    }
    fields.update(extra)
    return Context(**fields)


# ---------------------------------------------------------------------- supply-chain API bodies

H100_BF16_TFLOPS = 989.4
H100_BANDWIDTH_GBPS = 3350.0


def offer_body(
    supplier: str, contract: str, price_usd_per_unit_hour: float, **fields: Any
) -> dict[str, Any]:
    """An ``OfferCreate`` body: an 8 x H100-SXM machine (``fields`` override, e.g.
    ``term_months``, ``lead_time_days``)."""
    return {
        "supplier": supplier,
        "instance_type": "hgx-h100-8",
        "gpu": "H100-SXM",
        "gpus_per_unit": 8,
        "contract": contract,
        "price_usd_per_hour": price_usd_per_unit_hour,
        "region": "us-east",
        **fields,
    }


def plan_body(**fields: Any) -> dict[str, Any]:
    """A small, fast ``PlanCreate`` (few scenarios: the demand in these tests is certain)."""
    return {"period": "week", "horizon": 10, "scenarios": 5, "evaluation_scenarios": 5, **fields}


def acceptance_results(request: dict[str, Any], faults: dict[int, str]) -> list[dict[str, Any]]:
    """What a healthy H100-SXM reports for an ``AcceptanceRequest``, but for the GPUs in
    ``faults``, whose burn-in reaches 40% of the spec's TFLOPS (the simulated ``slow`` fault)."""
    return [
        {
            "index": gpu["index"],
            "name": "NVIDIA H100 80GB HBM3",
            "model": "H100-SXM",
            "memory_gib": 79.6,
            "uuid": f"GPU-{gpu['index']}",
            "ecc_errors": 0,
            "xid_errors": 0,
            "max_temperature_c": 71.0,
            "max_power_w": 640.0,
            "burn_in": "simulated",
            "bf16_tflops": H100_BF16_TFLOPS * (0.4 if gpu["index"] in faults else 0.92),
            "memory_bandwidth_gbps": H100_BANDWIDTH_GBPS * 0.91,
        }
        for gpu in request["gpus"]
    ]
