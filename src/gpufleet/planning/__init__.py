"""Procurement planning: what to buy, from whom, when.

Pure: ``plan(problem) -> ProcurementPlan`` reads nothing but its input and does no I/O.

Today (issue 4, first part): the problem model (``problem.py``) and the two-stage stochastic MILP
solved with HiGHS (``milp.py``, formulation in its docstring). Still to come: building problems
from catalog offers and supplier files, demand scenarios from declared demand and forecasts,
baselines and the perfect-foresight bound, out-of-sample evaluation, the CLI and the report.
"""

from gpufleet.planning.milp import Order, ProcurementPlan, plan
from gpufleet.planning.problem import CapacityOption, PlanningProblem

__all__ = ["CapacityOption", "Order", "PlanningProblem", "ProcurementPlan", "plan"]
