"""Simulator: event engine on a virtual clock, trace readers, in-memory cluster, metrics.

A driver of the same pure core the server drives. Built in later issues.
"""
