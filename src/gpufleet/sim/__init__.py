"""Simulator: trace readers and experiment drivers of the pure core.

Today: the openb reader and the FGD placement experiment. The event engine on a virtual clock,
Gavel traces and job-scheduling metrics come with issue 5.
"""
