"""Procurement planning: what to buy, from whom, when.

Pure: ``plan(problem) -> ProcurementPlan`` reads nothing but its input and does no I/O.

The problem model (``problem.py``); the two-stage stochastic MILP on HiGHS (``milp.py``,
formulation in its docstring); baselines, the perfect-foresight bound and out-of-sample
evaluation (``evaluate.py``, ``study.py``); options from catalog offers and contracts
(``build.py``); scenario files (``scenario_file.py``), declared demand (``demand.py``), forecasts
from usage history (``forecast.py``), spot estimates (``spot.py``), and their assembly into
problems (``assemble.py``). ``docs/planning.md`` explains the model and the results.
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
