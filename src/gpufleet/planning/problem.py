"""The procurement planning problem: periods, capacity options, demand scenarios.

Units: demand and capacity are in **H100-equivalent GPU-hours per period** (a GPU of another model
counts at its relative throughput, ``efficiency``). Prices are USD per *unit* per hour, a unit
being ``gpus_per_unit`` GPUs (an instance, a server, a contract block).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from gpufleet.domain.offer import ContractKind


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacityOption:
    """One way to buy capacity: an offer turned into planning terms."""

    name: str
    supplier: str
    gpus_per_unit: float
    contract: ContractKind
    price_usd_per_unit_hour: float
    """The contract's hourly price per unit (the spot price for spot options)."""
    efficiency: float = 1.0
    """H100-equivalents delivered per GPU (relative throughput)."""
    upfront_usd_per_unit: float = 0.0
    term_periods: int = 1
    """Committed options: periods a unit stays (and is paid for) once started."""
    lead_periods: int = 0
    """Earliest period a committed unit can start (lead time, rounded up to whole periods)."""
    min_units: int = 1
    """Smallest order of a committed option, in units."""
    max_units: float | None = None
    """Most units active at once (supplier capacity); ``None``: unlimited."""
    availability: float = 1.0
    """Flexible options: fraction of the period's hours the capacity can be had (spot); spot
    from one supplier then covers at most this share of demand."""
    reliability: float = 1.0
    """Committed options: expected fraction of ordered units that arrive and work."""
    gpu: str | None = None
    """The GPU model (catalog id), when the option was built from an offer."""
    serves: Mapping[str, float] | None = None
    """With demand classes: the classes this option can serve, each with its H100-equivalents per
    GPU for that class (a row of the substitution matrix). ``None``: every class at
    ``efficiency``."""

    def __post_init__(self) -> None:
        problems = []
        if self.gpus_per_unit <= 0 or self.efficiency <= 0:
            problems.append("gpus_per_unit and efficiency must be > 0")
        if self.price_usd_per_unit_hour < 0 or self.upfront_usd_per_unit < 0:
            problems.append("prices must be >= 0")
        if self.term_periods < 1 or self.lead_periods < 0 or self.min_units < 1:
            problems.append("term_periods >= 1, lead_periods >= 0 and min_units >= 1 required")
        if not 0 < self.availability <= 1 or not 0 < self.reliability <= 1:
            problems.append("availability and reliability must be in (0, 1]")
        if self.max_units is not None and self.max_units < 0:
            problems.append("max_units must be >= 0")
        if self.serves is not None and any(v <= 0 for v in self.serves.values()):
            problems.append("serves: every class efficiency must be > 0")
        if problems:
            raise ValueError(f"option {self.name!r}: " + "; ".join(problems))

    @property
    def committed(self) -> bool:
        """Reserved or owned: bought up front for a term, paid whether used or not."""
        return self.contract in (ContractKind.RESERVED, ContractKind.OWNED)

    @property
    def h100_per_unit(self) -> float:
        return self.gpus_per_unit * self.efficiency

    def class_efficiency(self, demand_class: str) -> float | None:
        """H100-equivalents per GPU for ``demand_class``; ``None`` if it cannot serve it."""
        if self.serves is None:
            return self.efficiency
        return self.serves.get(demand_class)

    def usd_per_h100_hour(self, period_hours: float) -> float:
        """All-in price of one delivered H100-equivalent hour: the hourly price plus the upfront
        payment spread over the term, divided by the H100-equivalents a unit delivers."""
        upfront = self.upfront_usd_per_unit / (self.term_periods * period_hours)
        return (self.price_usd_per_unit_hour + upfront) / (self.h100_per_unit * self.reliability)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanningProblem:
    period_hours: NDArray[np.float64]
    """Hours in each period (T,)."""
    options: tuple[CapacityOption, ...]
    demand: NDArray[np.float64]
    """H100-equivalent GPU-hours needed, per scenario and period (S, T)."""
    probabilities: NDArray[np.float64] = field(default_factory=lambda: np.ones(1))
    """Scenario probabilities (S,), summing to 1."""
    unmet_penalty_usd_per_gpu_hour: float = 50.0
    """Cost of each H100-equivalent GPU-hour of demand left unmet."""
    cvar_alpha: float | None = None
    """With ``cvar_weight > 0``: the CVaR level (e.g. 0.95) added to the objective."""
    cvar_weight: float = 0.0
    budget_usd: NDArray[np.float64] | None = None
    """Most that may be spent in each period (T,), ``inf`` for no limit: hourly charges of the
    period plus upfront payments of units starting then. ``None``: no budget."""
    max_supplier_share: float | None = None
    """Most of any period's delivered capacity that one supplier may provide, in (0, 1]."""
    existing_h100: NDArray[np.float64] | None = None
    """H100-equivalent GPUs already owned or contracted in each period (T,): sunk, free to use."""
    max_spot_share: float | None = None
    """Most of each period's demand that spot (all suppliers together) may serve: the share of
    the work that tolerates preemption. ``None``: no limit beyond each supplier's availability."""
    classes: tuple[str, ...] = ()
    """Demand classes (e.g. ``training``, ``inference``); empty: one class, served by all."""
    class_demand: NDArray[np.float64] | None = None
    """With ``classes``: demand per scenario, class and period (S, C, T); ``demand`` is then its
    sum over classes."""
    prorate_beyond_horizon: bool = False
    """Charge commitments only for the part of their term inside the horizon (demand goes on
    after it); ``False``: the whole contract, as signed."""

    def __post_init__(self) -> None:
        demand = np.atleast_2d(np.asarray(self.demand, dtype=np.float64))
        object.__setattr__(self, "demand", demand)
        hours = np.asarray(self.period_hours, dtype=np.float64)
        object.__setattr__(self, "period_hours", hours)
        if self.class_demand is not None:
            by_class = np.asarray(self.class_demand, dtype=np.float64)
            object.__setattr__(self, "class_demand", by_class)
            demand = by_class.sum(axis=1) if by_class.ndim == 3 else demand
            object.__setattr__(self, "demand", demand)
        for name in ("budget_usd", "existing_h100"):
            value = getattr(self, name)
            if value is not None:
                array = np.broadcast_to(np.asarray(value, dtype=np.float64), hours.shape).copy()
                object.__setattr__(self, name, array)
        probabilities = np.asarray(self.probabilities, dtype=np.float64)
        if probabilities.size == 1 and demand.shape[0] > 1:
            probabilities = np.full(demand.shape[0], 1 / demand.shape[0])
        object.__setattr__(self, "probabilities", probabilities)
        problems = [
            *self._shape_problems(),
            *(
                message
                for failed, message in (
                    (
                        self.budget_usd is not None
                        and bool((np.isnan(self.budget_usd) | (self.budget_usd < 0)).any()),
                        "budget_usd must be >= 0 (inf for no limit)",
                    ),
                    (
                        self.max_supplier_share is not None
                        and not 0 < self.max_supplier_share <= 1,
                        "max_supplier_share must be in (0, 1]",
                    ),
                    (
                        self.max_spot_share is not None and not 0 <= self.max_spot_share <= 1,
                        "max_spot_share must be in [0, 1]",
                    ),
                    (
                        self.existing_h100 is not None and bool((self.existing_h100 < 0).any()),
                        "existing_h100 must be >= 0",
                    ),
                )
                if failed
            ),
        ]
        if problems:
            raise ValueError("planning problem: " + "; ".join(problems))

    def _shape_problems(self) -> list[str]:
        demand, hours, probabilities = self.demand, self.period_hours, self.probabilities
        problems = []
        by_class = self.class_demand
        if (by_class is None) != (not self.classes) or (
            by_class is not None
            and (
                by_class.ndim != 3 or by_class.shape[1] != len(self.classes) or (by_class < 0).any()
            )
        ):
            problems.append("classes need class_demand of shape (scenarios, classes, periods) >= 0")
        elif self.classes and not all(
            any(o.class_efficiency(c) for o in self.options) for c in self.classes
        ):
            problems.append("every demand class needs an option that serves it")
        if demand.shape[1] != hours.size:
            problems.append(f"demand has {demand.shape[1]} periods, period_hours {hours.size}")
        if probabilities.size != demand.shape[0] or not np.isclose(probabilities.sum(), 1):
            problems.append("probabilities must have one entry per scenario and sum to 1")
        if (demand < 0).any() or (hours <= 0).any():
            problems.append("demand must be >= 0 and period hours > 0")
        if not self.options:
            problems.append("no capacity options")
        if self.cvar_weight and not (self.cvar_alpha and 0 < self.cvar_alpha < 1):
            problems.append("cvar_alpha must be in (0, 1) when cvar_weight > 0")
        return problems

    @property
    def periods(self) -> int:
        return int(self.period_hours.size)

    @property
    def scenarios(self) -> int:
        return int(self.demand.shape[0])

    @property
    def demand_by_class(self) -> NDArray[np.float64]:
        """(S, C, T): the class demand, or the demand as a single class."""
        if self.class_demand is not None:
            return self.class_demand
        return self.demand[:, None, :]

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.classes or ("all",)

    def only_scenario(self, s: int) -> PlanningProblem:
        """Scenario ``s`` alone, with probability 1 and no risk term."""
        return dataclasses.replace(
            self,
            demand=self.demand[s : s + 1],
            class_demand=None if self.class_demand is None else self.class_demand[s : s + 1],
            probabilities=np.ones(1),
            cvar_weight=0.0,
        )

    @property
    def net_demand(self) -> NDArray[np.float64]:
        """Demand left after the existing fleet, per scenario and period (S, T)."""
        if self.existing_h100 is None:
            return self.demand
        return np.maximum(self.demand - self.existing_h100 * self.period_hours, 0.0)

    @property
    def suppliers(self) -> tuple[str, ...]:
        return tuple(sorted({o.supplier for o in self.options}))
