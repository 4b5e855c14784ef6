"""A planning study as plain JSON-ready data (the CLI's ``--json``, the server's stored plan)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from gpufleet.planning.assemble import Assembled
from gpufleet.planning.study import Study


def study_summary(assembled: Assembled, study: Study, notes: Sequence[str]) -> dict[str, Any]:
    """A study as JSON-ready data: what ``gpufleet plan --json`` prints and the server stores."""
    scenario = assembled.scenario
    return {
        "scenario": scenario.name,
        "periods": scenario.horizon,
        "period": scenario.period,
        "options": len(assembled.in_sample.options),
        "scenarios": scenario.scenarios,
        "evaluation_scenarios": scenario.evaluation_scenarios,
        "status": study.plan.status,
        "mip_gap": study.plan.mip_gap,
        "solve_s": study.plan.solve_s,
        "orders": [
            {
                **dataclasses.asdict(o),
                "start": scenario.period_label(o.start_period),
            }
            for o in study.plan.orders
        ],
        "evaluations": [
            {
                "name": e.name,
                "expected_cost_usd": e.expected_cost_usd,
                "p95_cost_usd": e.p95_cost_usd,
                "shortfall_probability": e.shortfall_probability,
                "expected_unmet_gpu_hours": e.expected_unmet_gpu_hours,
                "committed_usd_per_supplier": e.committed_usd_per_supplier,
            }
            for e in study.evaluations
        ],
        "gap_to_bound": study.gap_to_bound,
        "beats_every_baseline": study.beats_every_baseline,
        "diagnosis": list(study.plan.diagnosis),
        "notes": list(notes),
    }
