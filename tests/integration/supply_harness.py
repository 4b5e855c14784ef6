"""Builders for supply-chain tests: offers, plan requests, acceptance reports."""

from __future__ import annotations

from typing import Any

SPEC_BF16_TFLOPS = 989.4
SPEC_BANDWIDTH_GBPS = 3350.0


def offer(
    supplier: str,
    contract: str,
    price_per_unit_hour: float,
    *,
    term_months: float | None = None,
    lead: float = 0.0,
    gpus: int = 8,
    instance: str = "hgx-h100-8",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "supplier": supplier,
        "instance_type": instance,
        "gpu": "H100-SXM",
        "gpus_per_unit": gpus,
        "contract": contract,
        "price_usd_per_hour": price_per_unit_hour,
        "lead_time_days": lead,
        "region": "us-east",
    }
    if term_months is not None:
        body["term_months"] = term_months
    return body


def plan_body(**fields: Any) -> dict[str, Any]:
    """A small, fast plan request (few scenarios: the demand in these tests is certain)."""
    return {"period": "week", "scenarios": 5, "evaluation_scenarios": 5, **fields}


def acceptance_results(request: dict[str, Any], faults: dict[int, str]) -> list[dict[str, Any]]:
    """What a healthy H100-SXM reports, but for the GPUs in ``faults`` (``slow``: 60% of spec)."""
    results = []
    for gpu in request["gpus"]:
        slow = faults.get(gpu["index"]) == "slow"
        results.append(
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
                "bf16_tflops": SPEC_BF16_TFLOPS * (0.6 if slow else 0.92),
                "memory_bandwidth_gbps": SPEC_BANDWIDTH_GBPS * 0.91,
                "detail": "",
            }
        )
    return results
