"""Planning scenario files (``gpufleet-scenario/v1``): what a team needs, what it may buy, and how
to judge a plan — the input of ``gpufleet plan SCENARIO.yaml``.

::

    format: gpufleet-scenario/v1
    name: startup-growth
    description: A startup growing from 64 to 512 H100-equivalents over six months.
    period: week                       # day | week | month
    horizon: 26w                       # periods, or a length: 26w, 6m, 180d
    start: 2027-01-04                  # optional: dates for the purchase orders
    reference_gpu: H100-SXM            # demand counts GPUs of this model (H100-equivalents)
    offers:
      catalog: auto                    # auto (shared catalog, else built-in) | builtin | none
      supplier_files: [suppliers/]     # supplier YAML files or folders, relative to this file
      gpus: [H100, H200, A100-80GB]    # models to consider (any alias); default: all
      suppliers: [aws, lambda]         # default: all
      contracts: [on_demand, spot, reserved, owned]
      max_per_contract: 12             # cheapest catalog offers kept per contract kind
      capacity_gpus_per_offer: 64      # cap for offers that state no capacity (default: none);
                                       # or per supplier: {default: 32, aws: 256}
      efficiency: {A100-80GB: 0.3}     # H100-equivalents per GPU, overriding dense BF16 TFLOPS
    demand:
      unit: gpus                       # gpus (busy on average in the period) | gpu-hours
      correlation: 0.8                 # how a project's deviation persists from period to period
      projects:
        - project: pretrain
          gpu: H100-SXM                # model the numbers count (default: reference_gpu)
          from: 0                      # first period (default 0)
          until: 25                    # last period, inclusive (default: the last)
          expected: {from: 64, to: 512}   # a number, a list (one per period) or a linear ramp
          low: {from: 48, to: 384}     # 5th percentile (default: expected)
          high: {from: 80, to: 640}    # 95th percentile (default: expected)
      history:                         # optional: demand forecast from usage history
        usage_csv: usage.csv           # or trace: openb:default
        model: auto                    # auto | seasonal-naive | ets
        season: 7                      # periods per season (optional)
        skip: 0                        # leading periods of the history to ignore
        scale: 1.0                     # multiply the history (growth, H100-equivalence)
    existing:                          # capacity already owned or contracted (sunk)
      - {gpu: H100-SXM, gpus: 16, from: 0, until: 11}
    beyond_horizon: charge             # charge | prorate: commitments running past the horizon
    budget_usd_per_period: 250000      # a number or one per period
    max_supplier_share: 0.6
    max_spot_share: 0.5                # share of the work that tolerates preemption (spot)
    unmet_penalty_usd_per_gpu_hour: 20
    spot_restart_overhead_hours: 0.25  # work lost per spot preemption
    scenarios: 200                     # in-sample scenarios the plan is optimised on
    evaluation_scenarios: 200          # fresh scenarios (another seed) it is judged on
    seed: 1
    classes:                           # optional: demand classes and which models serve them
      training: {H100-SXM: 1.0, H200: 1.0}          # H100-equivalents per GPU for the class
      inference: {H100-SXM: 1.0, L4: tflops}        # tflops: dense BF16 TFLOPS ratio
                                       # then every project (and history) names its class:
                                       # demand.projects[].class: training
    risk: cvar:0.95                    # optional: E[cost] + CVaR_0.95 (cvar:0.95@0.5: weight 0.5)
    mip_gap: 0.01
    time_limit_s: 120

Every problem names the file, the line and the key. Unknown keys are errors, so a typo never
silently changes a plan.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray

from gpufleet.catalog import yaml_lines
from gpufleet.catalog.problems import Problem
from gpufleet.catalog.yaml_lines import LineMap
from gpufleet.domain.offer import HOURS_PER_MONTH, ContractKind
from gpufleet.planning.scenario_reader import FieldReader, ScenarioError

FORMAT = "gpufleet-scenario/v1"
PERIOD_HOURS = {"day": 24.0, "week": 168.0, "month": HOURS_PER_MONTH}
_LENGTH_HOURS = {"d": 24.0, "w": 168.0, "m": HOURS_PER_MONTH, "y": 12 * HOURS_PER_MONTH}
_TOP_KEYS = frozenset(
    {
        "format", "name", "description", "period", "horizon", "start", "reference_gpu", "offers",
        "demand", "existing", "budget_usd_per_period", "max_supplier_share",
        "unmet_penalty_usd_per_gpu_hour", "spot_restart_overhead_hours", "scenarios",
        "evaluation_scenarios", "seed", "risk", "mip_gap", "time_limit_s", "notes",
        "beyond_horizon", "max_spot_share", "classes",
    }
)  # fmt: skip
_OFFER_KEYS = frozenset(
    {"catalog", "supplier_files", "gpus", "suppliers", "contracts", "max_per_contract",
     "efficiency", "capacity_gpus_per_offer"}
)  # fmt: skip
_DEMAND_KEYS = frozenset({"unit", "correlation", "projects", "history"})
_PROJECT_KEYS = frozenset({"project", "gpu", "class", "from", "until", "expected", "low", "high"})
_HISTORY_KEYS = frozenset({"usage_csv", "trace", "model", "season", "skip", "scale", "class"})
TFLOPS = "tflops"
"""In a class's substitution row: use the model's dense BF16 TFLOPS ratio."""
_EXISTING_KEYS = frozenset({"gpu", "gpus", "from", "until", "supplier"})


@dataclass(frozen=True, slots=True)
class DemandLine:
    """One project's declared need, in GPUs of ``gpu`` (or GPU-hours), per period (T,)."""

    project: str
    gpu: str | None
    low: NDArray[np.float64]
    expected: NDArray[np.float64]
    high: NDArray[np.float64]
    demand_class: str | None = None


@dataclass(frozen=True, slots=True)
class HistorySpec:
    usage_csv: Path | None = None
    trace: str | None = None
    model: str = "auto"
    season: int | None = None
    skip: int = 0
    scale: float = 1.0
    demand_class: str | None = None


@dataclass(frozen=True, slots=True)
class ExistingCapacity:
    gpu: str | None
    gpus: float
    first: int
    last: int
    supplier: str | None = None


@dataclass(frozen=True, slots=True)
class OfferSelection:
    catalog: str = "auto"
    supplier_files: tuple[Path, ...] = ()
    gpus: tuple[str, ...] = ()
    suppliers: tuple[str, ...] = ()
    contracts: frozenset[ContractKind] = frozenset(ContractKind)
    max_per_contract: int = 12
    efficiency: Mapping[str, float] = field(default_factory=dict)
    capacity_gpus_per_offer: Mapping[str, float] = field(default_factory=dict)
    """GPUs one offer can supply when it states no capacity, by supplier id, with ``default``
    for the others (empty: unlimited)."""

    def capacity_for(self, supplier: str) -> float | None:
        caps = self.capacity_gpus_per_offer
        return caps.get(supplier.lower(), caps.get("default"))


@dataclass(frozen=True, slots=True)
class Risk:
    alpha: float
    weight: float = 1.0

    def __str__(self) -> str:
        return f"cvar:{self.alpha:g}" + ("" if self.weight == 1 else f"@{self.weight:g}")


@dataclass(frozen=True, slots=True)
class Scenario:
    path: Path
    name: str
    description: str
    period: str
    horizon: int
    start: dt.date | None
    reference_gpu: str
    offers: OfferSelection
    demand_unit: str
    correlation: float
    demand: tuple[DemandLine, ...]
    history: HistorySpec | None
    existing: tuple[ExistingCapacity, ...]
    budget_usd: NDArray[np.float64] | None
    max_supplier_share: float | None
    unmet_penalty_usd_per_gpu_hour: float
    spot_restart_overhead_hours: float
    scenarios: int
    evaluation_scenarios: int
    seed: int
    risk: Risk | None
    mip_gap: float
    time_limit_s: float
    prorate_beyond_horizon: bool = False
    max_spot_share: float | None = None
    classes: Mapping[str, Mapping[str, float | str]] = field(default_factory=dict)
    """Demand classes: per class, the GPU models that serve it, each with its H100-equivalents
    per GPU for the class or ``tflops`` (the dense BF16 TFLOPS ratio). Empty: one class."""

    @property
    def period_hours(self) -> float:
        return PERIOD_HOURS[self.period]

    def period_label(self, t: int) -> str:
        """``2027-01-04`` when the scenario has a start date, else ``week 3``."""
        if self.start is None:
            return f"{self.period} {t}"
        if self.period == "month":
            month = self.start.month - 1 + t
            return dt.date(self.start.year + month // 12, month % 12 + 1, 1).strftime("%Y-%m")
        return (self.start + dt.timedelta(hours=self.period_hours * t)).isoformat()


def parse_horizon(value: str | int, period: str) -> int:
    """``26`` (periods), ``26w``, ``6m``, ``180d``, ``1y`` -> whole periods (rounded up)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            msg = f"horizon must be at least 1 period, got {value}"
            raise ValueError(msg)
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dwmy]?)\s*", str(value))
    if not match:
        msg = (
            f"horizon must be a number of periods or a length such as 26w, 6m, 180d; got {value!r}"
        )
        raise ValueError(msg)
    amount, unit = float(match.group(1)), match.group(2)
    hours = amount * (_LENGTH_HOURS[unit] if unit else PERIOD_HOURS[period])
    periods = math.ceil(hours / PERIOD_HOURS[period] - 1e-9)
    if periods < 1:
        msg = f"horizon {value!r} is shorter than one {period}"
        raise ValueError(msg)
    return periods


def parse_risk(value: str) -> Risk:
    """``cvar:0.95`` or ``cvar:0.95@0.5`` (CVaR level, weight of the CVaR term)."""
    number = r"(\d+(?:\.\d*)?|\.\d+)"
    match = re.fullmatch(rf"\s*cvar\s*:\s*{number}\s*(?:@\s*{number})?\s*", value)
    if not match:
        msg = f"risk must look like cvar:0.95 or cvar:0.95@0.5, got {value!r}"
        raise ValueError(msg)
    alpha, weight = float(match.group(1)), float(match.group(2) or 1.0)
    if not 0 < alpha < 1 or weight <= 0:
        msg = f"risk {value!r}: the level must be in (0, 1) and the weight > 0"
        raise ValueError(msg)
    return Risk(alpha, weight)


def _series(reader: FieldReader, key: str, span: int) -> NDArray[np.float64] | None:
    """A number (flat), a list of ``span`` numbers, or ``{from: a, to: b}`` (a linear ramp)."""
    value = reader.get(key)
    if value is None:
        return None
    if isinstance(value, LineMap):
        ramp = FieldReader(reader.path, value, f"{reader.where}.{key}", frozenset({"from", "to"}))
        a, b = ramp.number("from"), ramp.number("to")
        if a is None or b is None:
            raise ramp.error(None, "a ramp needs both from and to")
        return np.linspace(a, b, span) if span > 1 else np.array([a])
    if isinstance(value, list):
        if len(value) != span:
            raise reader.error(key, f"has {len(value)} values for {span} periods")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            raise reader.error(key, "must hold numbers only")
        array = np.array(value, dtype=np.float64)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        array = np.full(span, float(value))
    else:
        raise reader.error(key, f"must be a number, a list or {{from:, to:}}, got {value!r}")
    if (array < 0).any():
        raise reader.error(key, "must be >= 0")
    return array


def _span(reader: FieldReader, horizon: int) -> tuple[int, int]:
    first = reader.integer("from", 0) or 0
    last = reader.integer("until", horizon - 1)
    last = horizon - 1 if last is None else last
    if first >= horizon:  # before the until check: a missing until defaults to the last period
        raise reader.error("from", f"starts at period {first}, beyond the horizon of {horizon}")
    if first > last:
        raise reader.error("until", f"until ({last}) is before from ({first})")
    return first, min(last, horizon - 1)


def _project(path: Path, entry: Any, index: int, horizon: int) -> DemandLine:
    if not isinstance(entry, LineMap):
        raise ScenarioError(Problem(str(path), None, f"demand.projects[{index}]", "not a mapping"))
    r = FieldReader(path, entry, f"demand.projects[{index}]", _PROJECT_KEYS)
    name = r.text("project")
    if not name:
        raise r.error("project", "project is required")
    first, last = _span(r, horizon)
    # A ramp or a list runs over the declared span even where it passes the horizon: a shorter
    # horizon cuts the demand off, it does not compress it.
    until = r.integer("until")
    span = (last if until is None else until) - first + 1
    expected = _series(r, "expected", span)
    if expected is None:
        raise r.error("expected", "expected is required")
    low = _series(r, "low", span)
    high = _series(r, "high", span)
    low = expected.copy() if low is None else low
    high = expected.copy() if high is None else high
    if (low > expected + 1e-9).any():
        raise r.error("low", "low must not exceed expected")
    if (high < expected - 1e-9).any():
        raise r.error("high", "high must not be below expected")

    def full(values: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.zeros(horizon)
        out[first : last + 1] = values[: last - first + 1]
        return out

    return DemandLine(
        name, r.text("gpu"), full(low), full(expected), full(high), demand_class=r.text("class")
    )


def _history(path: Path, entry: LineMap) -> HistorySpec:
    r = FieldReader(path, entry, "demand.history", _HISTORY_KEYS)
    csv, trace = r.text("usage_csv"), r.text("trace")
    if (csv is None) == (trace is None):
        raise r.error("usage_csv", "give exactly one of usage_csv, trace")
    model = r.text("model", "auto") or "auto"
    if model not in {"auto", "seasonal-naive", "ets"}:
        raise r.error("model", f"must be auto, seasonal-naive or ets, got {model!r}")
    season = r.integer("season", low=2)
    return HistorySpec(
        usage_csv=None if csv is None else (path.parent / csv),
        trace=trace,
        model=model,
        season=season,
        skip=r.integer("skip", 0) or 0,
        scale=r.number("scale", 1.0) or 0.0,
        demand_class=r.text("class"),
    )


def _offers(path: Path, entry: LineMap | None) -> OfferSelection:
    if entry is None:
        return OfferSelection()
    r = FieldReader(path, entry, "offers", _OFFER_KEYS)
    catalog = r.text("catalog", "auto") or "auto"
    if catalog not in {"auto", "builtin", "none"}:
        raise r.error("catalog", f"must be auto, builtin or none, got {catalog!r}")
    contracts = frozenset(ContractKind)
    if r.get("contracts") is not None:
        try:
            contracts = frozenset(ContractKind(c) for c in r.strings("contracts"))
        except ValueError as exc:
            choices = ", ".join(k.value for k in ContractKind)
            raise r.error("contracts", f"{exc}; choose from {choices}") from None
    efficiency: dict[str, float] = {}
    table = r.mapping("efficiency")
    if table is not None:
        eff = FieldReader(path, table, "offers.efficiency", frozenset(table))
        for gpu in table:
            efficiency[gpu] = eff.number(gpu, low=1e-9) or 0.0
    files = tuple(path.parent / f for f in r.strings("supplier_files"))
    return OfferSelection(
        catalog=catalog,
        supplier_files=files,
        gpus=r.strings("gpus"),
        suppliers=r.strings("suppliers"),
        contracts=contracts,
        max_per_contract=r.integer("max_per_contract", 12, low=1) or 12,
        efficiency=efficiency,
        capacity_gpus_per_offer=_capacities(path, r),
    )


def _capacities(path: Path, r: FieldReader) -> dict[str, float]:
    value = r.get("capacity_gpus_per_offer")
    if value is None:
        return {}
    if not isinstance(value, LineMap):
        return {"default": r.number("capacity_gpus_per_offer", low=1.0) or 0.0}
    caps = FieldReader(path, value, "offers.capacity_gpus_per_offer", frozenset(value))
    return {str(k).lower(): caps.number(str(k), low=1.0) or 0.0 for k in value}


def _existing(path: Path, value: Any, horizon: int) -> tuple[ExistingCapacity, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ScenarioError(Problem(str(path), None, "existing", "must be a list"))
    out = []
    for i, entry in enumerate(value):
        if not isinstance(entry, LineMap):
            raise ScenarioError(Problem(str(path), None, f"existing[{i}]", "not a mapping"))
        r = FieldReader(path, entry, f"existing[{i}]", _EXISTING_KEYS)
        gpus = r.number("gpus")
        if gpus is None:
            raise r.error("gpus", "gpus is required")
        first, last = _span(r, horizon)
        out.append(ExistingCapacity(r.text("gpu"), gpus, first, last, r.text("supplier")))
    return tuple(out)


def _budget(r: FieldReader, horizon: int) -> NDArray[np.float64] | None:
    value = r.get("budget_usd_per_period")
    if value is None:
        return None
    budget = _series(r, "budget_usd_per_period", horizon)
    return None if budget is None else budget


def parse_scenario(text: str, path: Path, *, horizon: str | int | None = None) -> Scenario:
    """Read a scenario from ``text`` (``path`` names it in errors and anchors relative paths);
    ``horizon`` overrides the file's."""
    try:
        document = yaml_lines.load(text)
    except yaml.YAMLError as exc:
        line, message = yaml_lines.error_line_and_message(exc)
        raise ScenarioError(Problem(str(path), line, None, message)) from None
    if not isinstance(document, LineMap):
        raise ScenarioError(Problem(str(path), 1, None, "a scenario file must be a YAML mapping"))
    r = FieldReader(path, document, "", _TOP_KEYS)
    if r.get("format") != FORMAT:
        raise r.error("format", f"format must be {FORMAT!r}, got {r.get('format')!r}")
    period = r.text("period", "week") or "week"
    if period not in PERIOD_HOURS:
        raise r.error("period", f"must be day, week or month, got {period!r}")
    raw_horizon = horizon if horizon is not None else r.get("horizon")
    if raw_horizon is None:
        raise r.error("horizon", "horizon is required (here or with --horizon)")
    try:
        periods = parse_horizon(raw_horizon, period)
    except ValueError as exc:
        raise r.error("horizon", str(exc)) from None
    start = r.get("start")
    if start is not None and not isinstance(start, dt.date):
        raise r.error("start", f"must be a date (2027-01-04), got {start!r}")
    demand_map = r.mapping("demand")
    if demand_map is None:
        raise r.error("demand", "demand is required")
    d = FieldReader(path, demand_map, "demand", _DEMAND_KEYS)
    unit = d.text("unit", "gpus") or "gpus"
    if unit not in {"gpus", "gpu-hours"}:
        raise d.error("unit", f"must be gpus or gpu-hours, got {unit!r}")
    projects = d.get("projects") or []
    if not isinstance(projects, list):
        raise d.error("projects", "must be a list")
    history_map = d.mapping("history")
    if not projects and history_map is None:
        raise d.error("projects", "declare projects, a history to forecast, or both")
    risk_text = r.text("risk")
    try:
        risk = None if risk_text is None else parse_risk(risk_text)
    except ValueError as exc:
        raise r.error("risk", str(exc)) from None
    return Scenario(
        path=path,
        name=r.text("name", path.stem) or path.stem,
        description=r.text("description", "") or "",
        period=period,
        horizon=periods,
        start=start,
        reference_gpu=r.text("reference_gpu", "H100-SXM") or "H100-SXM",
        offers=_offers(path, r.mapping("offers")),
        demand_unit=unit,
        correlation=d.number("correlation", 0.8, high=1.0) or 0.0,
        demand=tuple(_project(path, p, i, periods) for i, p in enumerate(projects)),
        history=None if history_map is None else _history(path, history_map),
        existing=_existing(path, r.get("existing"), periods),
        budget_usd=_budget(r, periods),
        max_supplier_share=r.number("max_supplier_share", low=1e-9, high=1.0),
        unmet_penalty_usd_per_gpu_hour=r.number("unmet_penalty_usd_per_gpu_hour", 50.0) or 0.0,
        spot_restart_overhead_hours=r.number("spot_restart_overhead_hours", 0.25) or 0.0,
        scenarios=r.integer("scenarios", 200, low=1) or 200,
        evaluation_scenarios=r.integer("evaluation_scenarios", 200, low=1) or 200,
        seed=r.integer("seed", 0) or 0,
        risk=risk,
        mip_gap=r.number("mip_gap", 0.01, high=1.0) or 0.0,
        time_limit_s=r.number("time_limit_s", 120.0, low=1.0) or 120.0,
        prorate_beyond_horizon=_beyond_horizon(r),
        max_spot_share=r.number("max_spot_share", high=1.0),
        classes=_classes(path, r, projects, history_map),
    )


def _classes(
    path: Path, r: FieldReader, projects: list[Any], history: LineMap | None
) -> dict[str, dict[str, float | str]]:
    """The ``classes`` table; with it, every project (and the history) names a known class."""
    table = r.mapping("classes")
    if table is None:
        for i, entry in enumerate(projects):
            if isinstance(entry, LineMap) and entry.get("class") is not None:
                where = FieldReader(path, entry, f"demand.projects[{i}]", _PROJECT_KEYS)
                raise where.error("class", "a project names a class but no classes are defined")
        return {}
    classes: dict[str, dict[str, float | str]] = {}
    for name, row in table.items():
        if not isinstance(row, LineMap) or not row:
            raise FieldReader(path, table, "classes", frozenset(table)).error(
                str(name), "must map GPU models to H100-equivalents per GPU (or tflops)"
            )
        cells = FieldReader(path, row, f"classes.{name}", frozenset(row))
        classes[str(name)] = {
            str(gpu): TFLOPS if value == TFLOPS else (cells.number(str(gpu), low=1e-9) or 0.0)
            for gpu, value in row.items()
        }
    known = ", ".join(classes)
    for i, entry in enumerate(projects):
        if not isinstance(entry, LineMap):
            continue
        where = FieldReader(path, entry, f"demand.projects[{i}]", _PROJECT_KEYS)
        if where.text("class") not in classes:
            raise where.error(
                "class", f"must be one of the classes ({known}), got {entry.get('class')!r}"
            )
    if history is not None and history.get("class") not in (None, *classes):
        where = FieldReader(path, history, "demand.history", _HISTORY_KEYS)
        raise where.error("class", f"must be one of the classes ({known})")
    return classes


def _beyond_horizon(r: FieldReader) -> bool:
    value = r.text("beyond_horizon", "charge")
    if value not in {"charge", "prorate"}:
        raise r.error("beyond_horizon", f"must be charge or prorate, got {value!r}")
    return value == "prorate"


def load_scenario(path: Path, *, horizon: str | int | None = None) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(
            Problem(str(path), None, None, f"cannot read: {exc.strerror}")
        ) from None
    return parse_scenario(text, path, horizon=horizon)
