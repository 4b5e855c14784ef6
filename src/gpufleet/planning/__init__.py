"""Procurement planning: what to buy, from whom, when.

Pure: ``plan(problem) -> ProcurementPlan`` reads nothing but its input and does no I/O.

Today (issue 4, first part): the problem model (``problem.py``); the two-stage stochastic MILP
solved with HiGHS (``milp.py``, formulation in its docstring); the baselines, the
perfect-foresight bound and out-of-sample evaluation (``evaluate.py``); options built from
catalog offers and supplier contracts (``build.py``). Still to come: demand scenarios from
declared demand and forecasts, spot availability from the traces, budgets and supplier shares,
the CLI, the report and the examples.
"""

from gpufleet.planning.evaluate import Evaluation, Strategy, compare, evaluate, perfect_foresight
from gpufleet.planning.milp import Order, ProcurementPlan, plan
from gpufleet.planning.problem import CapacityOption, PlanningProblem

__all__ = [
    "CapacityOption",
    "Evaluation",
    "Order",
    "PlanningProblem",
    "ProcurementPlan",
    "Strategy",
    "compare",
    "evaluate",
    "perfect_foresight",
    "plan",
]
