"""Job-scheduling policies, one file each, registered by name (``scheduling.core.register``)."""

from gpufleet.scheduling.policies import (
    fair_share,
    finish_time_fairness,
    gavel_policies,
    las,
    min_jct,
    priority_backfill,
)

__all__ = [
    "fair_share",
    "finish_time_fairness",
    "gavel_policies",
    "las",
    "min_jct",
    "priority_backfill",
]
