"""Scheduling: ``decide(context) -> list[Action]``, policies and placement strategies.

Pure: reads time only from the context, does no I/O. Built in later issues.
"""
