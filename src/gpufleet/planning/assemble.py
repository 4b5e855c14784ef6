"""From a scenario file and offers to the planning problems: in-sample (to plan on) and
out-of-sample (fresh scenarios, another seed, to judge plans on).

Pure: the caller reads the offers, the usage history and the spot traces; this module only
combines them. Demand = declared lines (``demand.py``) + a forecast of the history
(``forecast.py``), both in H100-equivalent GPU-hours per period.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gpufleet.catalog.gpus import GpuTable, UnknownGpuError
from gpufleet.catalog.query import gpu_filter
from gpufleet.domain.offer import ContractKind, Offer
from gpufleet.planning import demand as declared
from gpufleet.planning.build import BuiltOptions, efficiency_of, options_from_offers
from gpufleet.planning.problem import CapacityOption, PlanningProblem
from gpufleet.planning.scenario_file import TFLOPS, Scenario

EVALUATION_SEED_OFFSET = 1_000_003
"""Out-of-sample scenarios use ``seed + EVALUATION_SEED_OFFSET``: never the planning draws."""


@dataclass(frozen=True, slots=True)
class Assembled:
    scenario: Scenario
    in_sample: PlanningProblem
    out_of_sample: PlanningProblem
    built: BuiltOptions
    declared: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    """Declared low / expected / high, H100-equivalent GPUs per period (for the report)."""
    notes: tuple[str, ...] = ()


class AssemblyError(ValueError):
    pass


def _model_id(scenario: Scenario, table: GpuTable, gpu: str, where: str) -> str:
    try:
        return table.get(gpu).id
    except UnknownGpuError as exc:
        raise AssemblyError(f"{scenario.path}: {where}: {exc}") from None


def _overrides(scenario: Scenario, table: GpuTable) -> dict[str, float]:
    """``offers.efficiency`` by model id: a key that names no model is an error, not ignored."""
    return {
        _model_id(scenario, table, gpu, "offers.efficiency"): value
        for gpu, value in scenario.offers.efficiency.items()
    }


def _efficiency(
    scenario: Scenario, table: GpuTable, reference: str, overrides: dict[str, float]
) -> Callable[[str | None], float]:
    def of(gpu: str | None) -> float:
        if gpu is None:
            return 1.0
        model = _model_id(scenario, table, gpu, "demand or existing capacity")
        value = efficiency_of(model, table, reference, overrides)
        if value is None:
            msg = (
                f"{scenario.path}: no throughput figure for {model}; "
                f"give one under offers.efficiency"
            )
            raise AssemblyError(msg)
        return value

    return of


def _with_classes(
    scenario: Scenario,
    table: GpuTable,
    options: Sequence[CapacityOption],
    overrides: dict[str, float],
    reference: str,
) -> tuple[tuple[CapacityOption, ...], int]:
    """Each option's row of the substitution matrix (``serves``); options that serve no class
    are dropped. A spot option's preemption loss (folded into its efficiency) carries over."""
    rows = {
        name: {
            _model_id(scenario, table, gpu, f"classes.{name}"): value for gpu, value in row.items()
        }
        for name, row in scenario.classes.items()
    }
    kept = []
    for option in options:
        base = efficiency_of(option.gpu or "", table, reference, overrides) if option.gpu else None
        factor = option.efficiency / base if base else 1.0
        serves = {}
        for name, row in rows.items():
            value = row.get(option.gpu or "")
            if value is None:
                continue
            per_gpu = base if value == TFLOPS else float(value)
            if per_gpu:
                serves[name] = per_gpu * factor
        if serves:
            kept.append(replace(option, serves=serves))
    return tuple(kept), len(options) - len(kept)


def select_offers(scenario: Scenario, offers: Sequence[Offer], table: GpuTable) -> list[Offer]:
    """The offers the scenario allows (its GPU models, suppliers and contract kinds), with the
    scenario's capacity cap on offers that state none."""
    try:
        models = gpu_filter(table, scenario.offers.gpus)
    except UnknownGpuError as exc:
        raise AssemblyError(f"{scenario.path}: offers.gpus: {exc}") from None
    suppliers = {s.lower() for s in scenario.offers.suppliers}
    contracts = scenario.offers.contracts
    chosen = []
    for offer in offers:
        if models is not None and offer.gpu not in models:
            continue
        if suppliers and offer.supplier.lower() not in suppliers:
            continue
        spot_ok = ContractKind.SPOT in contracts and offer.spot_price_usd_per_hour is not None
        if offer.contract not in contracts and not spot_ok:
            continue
        kept = offer
        cap = scenario.offers.capacity_for(offer.supplier)
        if cap is not None and offer.capacity_units is None:
            units = max(offer.min_units, math.floor(cap / offer.gpus_per_unit))
            kept = replace(offer, capacity_units=units)
        if offer.contract not in contracts:  # keep only its spot side
            kept = replace(
                kept,
                contract=ContractKind.SPOT,
                price_usd_per_hour=None,
                term_months=None,
                upfront_usd=0.0,
            )
        elif ContractKind.SPOT not in contracts and offer.spot_price_usd_per_hour is not None:
            kept = replace(kept, spot_price_usd_per_hour=None)
        chosen.append(kept)
    return chosen


def _prune(options: Sequence[CapacityOption], per_kind: int) -> tuple[CapacityOption, ...]:
    """The ``per_kind`` cheapest options of each contract kind (options come cheapest first)."""
    kept: dict[ContractKind, int] = {}
    out = []
    for option in options:
        if kept.get(option.contract, 0) < per_kind:
            kept[option.contract] = kept.get(option.contract, 0) + 1
            out.append(option)
    return tuple(out)


def assemble(
    scenario: Scenario,
    offers: Sequence[Offer],
    table: GpuTable,
    *,
    history_forecast: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
    spot_availability: float | Callable[[Offer], tuple[float, float]] = 0.8,
    reliability: Mapping[str, float] | None = None,
) -> Assembled:
    """The in- and out-of-sample problems of ``scenario``.

    ``history_forecast``: the forecast demand paths from usage history as (in-sample,
    out-of-sample) arrays of H100-equivalent GPU-hours, shapes (S, T) and (S', T).
    ``reliability``: per supplier, the share of ordered capacity expected to be useful (from
    its scorecard); suppliers not named are taken as fully reliable.
    """
    reference = _model_id(scenario, table, scenario.reference_gpu, "reference_gpu")
    overrides = _overrides(scenario, table)
    efficiency = _efficiency(scenario, table, reference, overrides)
    chosen = select_offers(scenario, offers, table)
    built = options_from_offers(
        chosen,
        table,
        period_hours=scenario.period_hours,
        reference=reference,
        efficiency=overrides,
        spot_availability=spot_availability,
        reliability=reliability,
    )
    options = _prune(built.options, scenario.offers.max_per_contract)
    if not options:
        msg = (
            f"{scenario.path}: no offer matches the scenario's offers section "
            f"({len(offers)} offers read, {len(chosen)} selected)"
        )
        raise AssemblyError(msg)
    notes = []
    if len(options) < len(built.options):
        notes.append(
            f"kept the {scenario.offers.max_per_contract} cheapest options per contract kind: "
            f"{len(options)} of {len(built.options)}"
        )
    horizon = scenario.horizon

    classes = tuple(scenario.classes)
    if classes:
        options, dropped = _with_classes(scenario, table, options, overrides, reference)
        if dropped:
            notes.append(f"left out {dropped} option(s) whose GPU model serves no demand class")
    names = classes or (None,)

    def demand(count: int, seed: int, forecast: NDArray[np.float64] | None) -> NDArray[np.float64]:
        """(S, C, T): declared lines per class (independent draws), plus the forecast history
        in its class (the first by default)."""
        total = np.zeros((count, len(names), horizon))
        for c, name in enumerate(names):
            lines = [line for line in scenario.demand if line.demand_class == name]
            if lines:
                total[:, c, :] += declared.declared_scenarios(
                    lines,
                    scenarios=count,
                    seed=seed + 7919 * c,
                    correlation=scenario.correlation,
                    period_hours=scenario.period_hours,
                    unit=scenario.demand_unit,
                    efficiency=efficiency,
                )
        if forecast is not None:
            target = scenario.history.demand_class if scenario.history else None
            total[:, names.index(target) if target in names else 0, :] += forecast[:count, :horizon]
        return total

    def by_class(count: int, seed: int, forecast: NDArray[np.float64] | None) -> dict[str, Any]:
        values = demand(count, seed, forecast)
        if classes:
            return {"demand": values.sum(axis=1), "class_demand": values}
        return {"demand": values[:, 0, :]}

    forecast_in, forecast_out = history_forecast or (None, None)
    hours = np.full(horizon, scenario.period_hours)
    risk = scenario.risk
    base = PlanningProblem(
        period_hours=hours,
        options=options,
        **by_class(scenario.scenarios, scenario.seed, forecast_in),
        unmet_penalty_usd_per_gpu_hour=scenario.unmet_penalty_usd_per_gpu_hour,
        cvar_alpha=None if risk is None else risk.alpha,
        cvar_weight=0.0 if risk is None else risk.weight,
        budget_usd=scenario.budget_usd,
        max_supplier_share=scenario.max_supplier_share,
        existing_h100=declared.existing_h100(scenario.existing, horizon, efficiency),
        prorate_beyond_horizon=scenario.prorate_beyond_horizon,
        max_spot_share=scenario.max_spot_share,
        classes=classes,
    )
    out_seed = scenario.seed + EVALUATION_SEED_OFFSET
    out_of_sample = replace(
        base,
        **by_class(scenario.evaluation_scenarios, out_seed, forecast_out),
        probabilities=np.full(scenario.evaluation_scenarios, 1 / scenario.evaluation_scenarios),
    )
    per_gpu = 1.0 if scenario.demand_unit == "gpus" else 1.0 / scenario.period_hours
    lines = (
        declared.quantile_lines(
            [
                replace(
                    line,
                    low=line.low * efficiency(line.gpu) * per_gpu,
                    expected=line.expected * efficiency(line.gpu) * per_gpu,
                    high=line.high * efficiency(line.gpu) * per_gpu,
                )
                for line in scenario.demand
            ]
        )
        if scenario.demand
        else {}
    )
    for reason, count in sorted(built.skipped.items()):
        notes.append(f"left out {count} offer(s): {reason}")
    if not math.isfinite(float(base.demand.max())):
        msg = f"{scenario.path}: demand is not finite"
        raise AssemblyError(msg)
    return Assembled(scenario, base, out_of_sample, built, lines, tuple(notes))
