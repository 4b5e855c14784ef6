"""CLI test fixtures: a live control plane (``live_harness``)."""

from live_harness import live, runner, template

__all__ = ["live", "runner", "template"]
