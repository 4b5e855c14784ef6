"""Procurement planning: demand forecasting, the procurement MILP, risk scenarios, baselines.

Pure: ``plan(problem) -> ProcurementPlan`` reads time only from its input and does no I/O.
Built in a later issue; the package exists now so the layer contracts hold from day one.
"""
