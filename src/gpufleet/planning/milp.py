"""Two-stage stochastic procurement MILP (sample average approximation), solved with HiGHS.

Sets: periods ``t = 0..T-1`` with ``h_t`` hours; scenarios ``s`` with probability ``p_s`` and
demand ``D_ts`` (H100-equivalent GPU-hours); committed options ``k in K_c`` (reserved, owned) and
flexible options ``k in K_f`` (on-demand, spot). For option ``k``: ``q_k`` H100-equivalents per
unit, hourly price ``c_k`` per unit, upfront ``f_k`` per unit, term ``L_k`` periods, lead time
``l_k`` periods, minimum order ``m_k`` units, capacity ``U_k`` units, reliability ``r_k``
(committed) or availability ``a_k`` (flexible).

First stage (shared by all scenarios):
    x_kt in Z+        units of committed option k starting in period t (t >= l_k)
    b_kt in {0,1}     an order is placed (only where m_k > 1)
Second stage (per scenario):
    y_kts >= 0        unit-hours of flexible option k in period t
    u_ts >= 0         unmet demand (H100-equivalent GPU-hours)

Active committed units (a column each, defined by an equality row, so demand rows stay short):
    A_kt = sum_{t' <= t < t' + L_k} x_kt'.

Minimise   C1 + sum_s p_s C2_s  [+ w (eta + 1/(1-alpha) sum_s p_s z_s)]      (optional CVaR)
    C1   = sum_{k in K_c, t} x_kt (f_k + c_k H_kt)       H_kt = hours of the full term from t
    C2_s = sum_{k in K_f, t} c_k y_kts + pi sum_t u_ts   pi = unmet penalty per GPU-hour
subject to
    sum_{K_c} r_k q_k h_t A_kt + sum_{K_f} q_k y_kts + u_ts >= D_ts - E_t h_t    demand
    A_kt <= U_k                                                           supplier capacity
    y_kts <= a_k U_k h_t                                                  flexible capacity
    sum_{k spot of j} q_k y_kts <= a_j (D_ts - E_t h_t)                   spot availability
    sum_{k spot} q_k y_kts <= phi (D_ts - E_t h_t)                        spot share (if given)
    m_k b_kt <= x_kt <= M_k b_kt                                          minimum order
    sum_{K_c} (c_k h_t A_kt + f_k x_kt) + sum_{K_f} c_k y_kts <= B_t      budget (if given)
    V_jts <= sigma sum_j' V_j'ts                                          supplier share (if given)
    z_s >= C1 + C2_s - eta,  z_s >= 0                                     CVaR (if used)
With demand classes ``c`` (e.g. training, inference; ``D_cts``), the demand row becomes one row
per class, fed by flows ``w_kcts >= 0`` (unit-hours of option ``k`` given to class ``c``) at the
substitution matrix's efficiency ``e_kc`` (zero: ``k`` cannot serve ``c``)::

    sum_k g_k e_kc w_kcts + w^E_cts + u_cts >= D_cts                      class demand
    sum_c w_kcts <= r_k h_t A_kt  (committed),   sum_c w_kcts <= y_kts  (flexible)
    sum_c w^E_cts <= E_t h_t                                              existing fleet

with ``g_k`` GPUs per unit; ``q_k = g_k e_k`` above is the single-class case.

where ``E_t`` is the existing fleet (H100-equivalent GPUs already owned or contracted, sunk) and
``V_jts`` the capacity supplier ``j`` delivers in period ``t`` of scenario ``s`` (the demand row's
terms of its options). Spot: ``a_j`` is the share of time supplier ``j``'s spot capacity can be
had (estimated from the spot traces); when it is gone, the work it did needs another source, so
spot covers at most that share of each period's demand; ``phi`` is the share of the work that
tolerates preemption at all. Work lost to preemptions is already
taken out of a spot option's ``q_k`` (its efficiency).

Committed units are charged for their whole term even when it runs past the horizon: a contract
is binding (``H_kt`` then counts the periods beyond at the horizon's mean length). With
``prorate_beyond_horizon`` only the part inside the horizon is charged (upfront pro rata), for
demand that goes on after it; purchase orders always state the whole contract's cost.

Unmet demand keeps every problem feasible (a budget or a share cap too tight shows as
shortfall): a plan reports it, with ``diagnose``'s account of the binding constraints, rather
than failing. The solver stops at ``mip_gap`` or ``time_limit_s`` and the plan says which: a
time-limited answer is never called optimal.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np
from numpy.typing import NDArray

from gpufleet.domain.offer import ContractKind
from gpufleet.highs import new_highs
from gpufleet.planning.diagnosis import diagnose
from gpufleet.planning.problem import CapacityOption, PlanningProblem


@dataclass(frozen=True, slots=True)
class Order:
    """A committed purchase in the plan."""

    option: str
    supplier: str
    start_period: int
    units: int
    term_periods: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class ProcurementPlan:
    orders: tuple[Order, ...]
    flexible_unit_hours: dict[str, NDArray[np.float64]]
    """Per flexible option: expected unit-hours per period (T,)."""
    committed_cost_usd: float
    expected_cost_usd: float
    cost_per_scenario_usd: NDArray[np.float64]
    unmet_gpu_hours: NDArray[np.float64]
    """Per scenario and period (S, T)."""
    status: str
    """``optimal`` (within ``mip_gap``) or ``time limit`` — never called optimal when cut short."""
    mip_gap: float
    solve_s: float
    diagnosis: tuple[str, ...] = ()
    """Why demand is left unmet, when it is: the binding constraints, in words."""

    @property
    def shortfall_probability(self) -> float:
        return float((self.unmet_gpu_hours.sum(axis=1) > 1e-6).mean())


class _Builder:
    """Accumulates columns and CSR rows for one HiGHS model."""

    def __init__(self) -> None:
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.cost: list[float] = []
        self.integer: list[int] = []
        self.row_lb: list[float] = []
        self.row_ub: list[float] = []
        self.starts: list[int] = []
        self.index: list[int] = []
        self.value: list[float] = []

    def var(
        self, cost: float = 0.0, lb: float = 0.0, ub: float = math.inf, *, integer: bool = False
    ) -> int:
        self.lb.append(lb)
        self.ub.append(ub)
        self.cost.append(cost)
        if integer:
            self.integer.append(len(self.lb) - 1)
        return len(self.lb) - 1

    def row(
        self, terms: list[tuple[int, float]], lb: float = -math.inf, ub: float = math.inf
    ) -> None:
        self.starts.append(len(self.index))
        for col, coef in terms:
            self.index.append(col)
            self.value.append(coef)
        self.row_lb.append(lb)
        self.row_ub.append(ub)

    def solve(
        self, *, mip_gap: float, time_limit_s: float
    ) -> tuple[highspy.Highs, NDArray[np.float64]]:
        h = new_highs()
        h.setOptionValue("mip_rel_gap", mip_gap)
        h.setOptionValue("time_limit", float(time_limit_s))
        inf = highspy.kHighsInf
        n = len(self.lb)
        h.addVars(
            n, np.array([max(v, -inf) for v in self.lb]), np.array([min(v, inf) for v in self.ub])
        )
        h.changeColsCost(n, np.arange(n, dtype=np.int32), np.array(self.cost))
        if self.integer:
            cols = np.array(self.integer, dtype=np.int32)
            kinds = np.full(cols.size, highspy.HighsVarType.kInteger)
            h.changeColsIntegrality(cols.size, cols, kinds)
        if self.row_lb:
            h.addRows(
                len(self.row_lb),
                np.array([max(v, -inf) for v in self.row_lb]),
                np.array([min(v, inf) for v in self.row_ub]),
                len(self.index),
                np.array(self.starts, dtype=np.int32),
                np.array(self.index, dtype=np.int32),
                np.array(self.value),
            )
        h.run()
        return h, np.array(h.getSolution().col_value)


def _term_hours(problem: PlanningProblem, start: int, term: int) -> float:
    inside = problem.period_hours[start : start + term]
    beyond = term - inside.size
    return float(inside.sum() + beyond * problem.period_hours.mean())


def contract_cost_usd(problem: PlanningProblem, option: CapacityOption, start: int) -> float:
    """What one unit of a committed option started in period ``start`` costs over its whole
    term: the amount a purchase order commits to."""
    hours = _term_hours(problem, start, option.term_periods)
    return option.upfront_usd_per_unit + option.price_usd_per_unit_hour * hours


def unit_cost_usd(problem: PlanningProblem, option: CapacityOption, start: int) -> float:
    """What one unit started in period ``start`` costs the plan: the whole contract, or with
    ``prorate_beyond_horizon`` only the share of its term inside the horizon (upfront spread
    evenly over the term) — the rest is assumed worth its price to the demand that follows."""
    if not problem.prorate_beyond_horizon:
        return contract_cost_usd(problem, option, start)
    inside = problem.period_hours[start : start + option.term_periods]
    share = inside.size / option.term_periods
    return option.upfront_usd_per_unit * share + option.price_usd_per_unit_hour * float(
        inside.sum()
    )


def _big_m(problem: PlanningProblem, option: CapacityOption) -> float:
    if option.max_units is not None:
        return float(option.max_units)
    per_unit = option.h100_per_unit * option.reliability * float(problem.period_hours.min())
    return float(math.ceil(problem.demand.max() / per_unit) + option.min_units)


@dataclass(slots=True)
class _Columns:
    """Where each decision lives in the model."""

    starts: dict[tuple[int, int], int]
    """(option, period) -> units of a committed option starting then."""
    active: dict[tuple[int, int], int]
    """(option, period) -> the column of A_kt, the committed units active then."""
    first_stage: list[tuple[int, float]]
    use: dict[tuple[int, int, int], int]
    """(option, period, scenario) -> unit-hours of a flexible option."""
    unmet: NDArray[np.int64]
    """(scenario, class, period) -> the column of unmet demand."""
    scenario_cost: list[list[tuple[int, float]]]
    spend: dict[tuple[int, int], list[tuple[int, float]]] = field(default_factory=dict)
    """(period, scenario) -> the terms of what is spent in that period."""
    delivered: dict[tuple[int, int], list[tuple[int, float, str]]] = field(default_factory=dict)
    """(period, scenario) -> (column, H100-hours per unit of it, supplier)."""


def _first_stage(
    problem: PlanningProblem, m: _Builder, fixed: dict[tuple[str, int], int] | None
) -> _Columns:
    cols = _Columns({}, {}, [], {}, np.empty((0, 0), dtype=np.int64), [])
    n_periods = problem.periods
    for k, o in enumerate(problem.options):
        if not o.committed:
            continue
        covering: dict[int, list[int]] = {}
        for t in range(o.lead_periods, n_periods):
            unit_cost = unit_cost_usd(problem, o, t)
            ub = math.inf if o.max_units is None else o.max_units
            if fixed is None:
                x = m.var(unit_cost, ub=ub, integer=True)
            else:  # evaluating a given plan: its orders, and nothing else
                units = float(fixed.get((o.name, t), 0))
                x = m.var(unit_cost, lb=units, ub=units)
            cols.starts[(k, t)] = x
            cols.first_stage.append((x, unit_cost))
            for tau in range(t, min(t + o.term_periods, n_periods)):
                covering.setdefault(tau, []).append(x)
            if o.min_units > 1 and fixed is None:
                ordered = m.var(0.0, ub=1.0, integer=True)
                m.row([(x, 1.0), (ordered, -float(o.min_units))], lb=0.0)
                m.row([(x, 1.0), (ordered, -_big_m(problem, o))], ub=0.0)
        # A_kt = units active in t; its upper bound is the supplier's capacity. Demand rows read
        # A_kt rather than every start that covers t, which keeps them short.
        for t, starts in covering.items():
            a = m.var(0.0, ub=math.inf if o.max_units is None else o.max_units)
            cols.active[(k, t)] = a
            m.row([(a, 1.0)] + [(x, -1.0) for x in starts], lb=0.0, ub=0.0)
    return cols


def _committed_terms(
    problem: PlanningProblem, cols: _Columns, t: int
) -> tuple[list[tuple[int, float, str]], list[tuple[int, float]]]:
    """Period ``t``'s committed capacity (column, H100-hours per unit, supplier) and spend."""
    hours = float(problem.period_hours[t])
    delivered: list[tuple[int, float, str]] = []
    spend: list[tuple[int, float]] = []
    for k, o in enumerate(problem.options):
        if not o.committed or (k, t) not in cols.active:
            continue
        delivered.append((cols.active[(k, t)], o.reliability * o.h100_per_unit * hours, o.supplier))
        spend.append((cols.active[(k, t)], o.price_usd_per_unit_hour * hours))
        if (k, t) in cols.starts and o.upfront_usd_per_unit:
            spend.append((cols.starts[(k, t)], o.upfront_usd_per_unit))
    return delivered, spend


def _second_stage(problem: PlanningProblem, m: _Builder, cols: _Columns) -> None:
    hours, p = problem.period_hours, problem.probabilities
    demand = problem.net_demand
    cols.unmet = np.empty(
        (problem.scenarios, len(problem.class_names), problem.periods), dtype=np.int64
    )
    cols.scenario_cost = [[] for _ in range(problem.scenarios)]
    committed = [_committed_terms(problem, cols, t) for t in range(problem.periods)]
    for s in range(problem.scenarios):
        for t in range(problem.periods):
            delivered = list(committed[t][0])
            spend = list(committed[t][1])
            # (column, unit-hours one unit of it makes available, option) for the class flows
            sources = [
                (cols.active[(k, t)], o.reliability * float(hours[t]), k)
                for k, o in enumerate(problem.options)
                if o.committed and (k, t) in cols.active
            ]
            for k, o in enumerate(problem.options):
                if o.committed:
                    continue
                cap = (
                    math.inf
                    if o.max_units is None
                    else o.availability * o.max_units * float(hours[t])
                )
                y = m.var(float(p[s]) * o.price_usd_per_unit_hour, ub=cap)
                cols.use[(k, t, s)] = y
                delivered.append((y, o.h100_per_unit, o.supplier))
                spend.append((y, o.price_usd_per_unit_hour))
                sources.append((y, 1.0, k))
                cols.scenario_cost[s].append((y, o.price_usd_per_unit_hour))
            if problem.classes:
                _class_rows(problem, m, cols, (s, t), sources)
            else:
                u = _unmet(problem, m, cols, (s, 0, t))
                m.row([(c, v) for c, v, _ in delivered] + [(u, 1.0)], lb=float(demand[s, t]))
            _spot_share(problem, m, cols, t, s, demand=float(demand[s, t]))
            cols.spend[(t, s)] = spend
            cols.delivered[(t, s)] = delivered
            _budget_and_share(problem, m, t, spend, delivered)


def _unmet(problem: PlanningProblem, m: _Builder, cols: _Columns, at: tuple[int, int, int]) -> int:
    s = at[0]
    penalty = problem.unmet_penalty_usd_per_gpu_hour
    u = m.var(float(problem.probabilities[s]) * penalty)
    cols.unmet[at] = u
    cols.scenario_cost[s].append((u, penalty))
    return u


def _class_rows(
    problem: PlanningProblem,
    m: _Builder,
    cols: _Columns,
    at: tuple[int, int],
    sources: list[tuple[int, float, int]],
) -> None:
    """Demand classes: each source's unit-hours flow to the classes its option serves, at the
    option's efficiency for that class (the substitution matrix); one demand row per class."""
    s, t = at
    classes = problem.classes
    serving: list[list[tuple[int, float]]] = [[] for _ in classes]
    for col, per_unit, k in sources:
        option = problem.options[k]
        flows = []
        for c, name in enumerate(classes):
            efficiency = option.class_efficiency(name)
            if efficiency:
                w = m.var(0.0)
                flows.append((w, 1.0))
                serving[c].append((w, option.gpus_per_unit * efficiency))
        if flows:
            m.row([*flows, (col, -per_unit)], ub=0.0)
    if problem.existing_h100 is not None and problem.existing_h100[t] > 0:
        existing = [m.var(0.0) for _ in classes]
        for c, w in enumerate(existing):
            serving[c].append((w, 1.0))
        capacity = float(problem.existing_h100[t] * problem.period_hours[t])
        m.row([(w, 1.0) for w in existing], ub=capacity)
    for c in range(len(classes)):
        u = _unmet(problem, m, cols, (s, c, t))
        m.row([*serving[c], (u, 1.0)], lb=float(problem.demand_by_class[s, c, t]))


def _spot_share(
    problem: PlanningProblem, m: _Builder, cols: _Columns, t: int, s: int, *, demand: float
) -> None:
    """Spot from one supplier covers at most its availability's share of the demand: when its
    spot capacity is gone (the traces' unavailable ticks), that work needs another source."""
    by_supplier: dict[str, list[tuple[int, float]]] = {}
    availability: dict[str, float] = {}
    for k, o in enumerate(problem.options):
        if o.contract is ContractKind.SPOT and o.availability < 1 and (k, t, s) in cols.use:
            by_supplier.setdefault(o.supplier, []).append((cols.use[(k, t, s)], o.h100_per_unit))
            availability[o.supplier] = max(availability.get(o.supplier, 0.0), o.availability)
    for supplier, terms in by_supplier.items():
        m.row(terms, ub=availability[supplier] * demand)
    if problem.max_spot_share is not None:
        spot = [
            (cols.use[(k, t, s)], o.h100_per_unit)
            for k, o in enumerate(problem.options)
            if o.contract is ContractKind.SPOT and (k, t, s) in cols.use
        ]
        if spot:
            m.row(spot, ub=problem.max_spot_share * demand)


def _budget_and_share(
    problem: PlanningProblem,
    m: _Builder,
    t: int,
    spend: list[tuple[int, float]],
    delivered: list[tuple[int, float, str]],
) -> None:
    """Period budget (spend <= B_t) and diversification (each supplier <= sigma * total)."""
    if problem.budget_usd is not None and math.isfinite(problem.budget_usd[t]):
        m.row(spend, ub=float(problem.budget_usd[t]))
    share = problem.max_supplier_share
    if share is None or share >= 1:
        return
    for supplier in problem.suppliers:
        terms = [(c, v * ((1.0 if who == supplier else 0.0) - share)) for c, v, who in delivered]
        m.row([(c, v) for c, v in terms if v], ub=0.0)


def _risk(problem: PlanningProblem, m: _Builder, cols: _Columns) -> None:
    """CVaR_alpha of the scenario cost (Rockafellar-Uryasev), weighted into the objective."""
    if not problem.cvar_weight or problem.cvar_alpha is None:
        return
    alpha, weight = problem.cvar_alpha, problem.cvar_weight
    eta = m.var(weight, lb=-math.inf)
    for s in range(problem.scenarios):
        z = m.var(weight * float(problem.probabilities[s]) / (1 - alpha))
        total = [(c, -v) for c, v in cols.first_stage + cols.scenario_cost[s]]
        m.row([(z, 1.0), (eta, 1.0), *total], lb=0.0)


def plan(
    problem: PlanningProblem,
    *,
    mip_gap: float = 0.01,
    time_limit_s: float = 60.0,
    fixed_orders: Sequence[Order] | None = None,
) -> ProcurementPlan:
    """Solve the procurement MILP (formulation in the module docstring).

    With ``fixed_orders`` the first stage is not chosen but given (an existing plan, or a
    baseline's purchases, evaluated on ``problem``'s scenarios): only the recourse is optimised.
    An order for an option or start period the problem does not have is an error.
    """
    started = time.perf_counter()
    fixed: dict[tuple[str, int], int] | None = None
    if fixed_orders is not None:
        fixed = {}
        for order in fixed_orders:
            known = [o for o in problem.options if o.name == order.option and o.committed]
            if not known or order.start_period < known[0].lead_periods:
                msg = (
                    f"order {order.option!r} at period {order.start_period} "
                    "fits no committed option of this problem"
                )
                raise ValueError(msg)
            key = (order.option, order.start_period)
            fixed[key] = fixed.get(key, 0) + order.units
        _check_fixed_capacity(problem, fixed)
    m = _Builder()
    cols = _first_stage(problem, m, fixed)
    _second_stage(problem, m, cols)
    _risk(problem, m, cols)
    h, values = m.solve(mip_gap=mip_gap, time_limit_s=time_limit_s)
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kOptimal:
        label = "optimal"
    elif status == highspy.HighsModelStatus.kTimeLimit and values.size:
        label = "time limit"
    else:
        msg = f"the procurement MILP ended with status {h.modelStatusToString(status)}"
        raise RuntimeError(msg)
    gap = float(h.getInfo().mip_gap)
    return _extract(problem, cols, values=values, status=label, gap=gap, started=started)


def _check_fixed_capacity(problem: PlanningProblem, fixed: dict[tuple[str, int], int]) -> None:
    """Given orders must fit their supplier's capacity (else the model has no solution)."""
    for o in problem.options:
        if not o.committed or o.max_units is None:
            continue
        for t in range(problem.periods):
            active = sum(
                units
                for (name, start), units in fixed.items()
                if name == o.name and start <= t < start + o.term_periods
            )
            if active > o.max_units:
                msg = (
                    f"orders for {o.name!r} hold {active} units in period {t}; "
                    f"the supplier's capacity is {o.max_units:g}"
                )
                raise ValueError(msg)


def _extract(
    problem: PlanningProblem,
    cols: _Columns,
    *,
    values: NDArray[np.float64],
    status: str,
    gap: float,
    started: float,
) -> ProcurementPlan:
    p = problem.probabilities
    committed = float(sum(values[c] * v for c, v in cols.first_stage))
    orders = []
    for (k, t), col in sorted(cols.starts.items(), key=lambda item: (item[0][1], item[0][0])):
        units = round(values[col])
        if units:
            o = problem.options[k]
            cost = units * contract_cost_usd(problem, o, t)
            orders.append(Order(o.name, o.supplier, t, units, o.term_periods, cost))
    per_scenario = np.array(
        [
            committed + sum(values[c] * v for c, v in cols.scenario_cost[s])
            for s in range(problem.scenarios)
        ]
    )
    flexible = {
        o.name: np.array(
            [
                sum(p[s] * values[cols.use[(k, t, s)]] for s in range(problem.scenarios))
                for t in range(problem.periods)
            ]
        )
        for k, o in enumerate(problem.options)
        if not o.committed
    }
    return ProcurementPlan(
        orders=tuple(orders),
        flexible_unit_hours=flexible,
        committed_cost_usd=committed,
        expected_cost_usd=float(p @ per_scenario),
        cost_per_scenario_usd=per_scenario,
        unmet_gpu_hours=values[cols.unmet].sum(axis=1),
        status=status,
        mip_gap=gap if math.isfinite(gap) else 0.0,
        solve_s=time.perf_counter() - started,
        diagnosis=diagnose(problem, cols, values),
    )
