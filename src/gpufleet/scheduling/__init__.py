"""Scheduling: placement strategies (``placement/``) today; ``decide(context) -> list[Action]``
and the job-scheduling policies with issue 5.

Pure: reads time only from its inputs, does no I/O.
"""
