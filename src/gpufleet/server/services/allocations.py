"""Allocations: the GPUs a job holds on a node, from the moment it is scheduled until it lets
them go (finished, cancelled, preempted, requeued). Each is a usage record: accounting prices
it with the contract price of the node's GPUs, copied in when the allocation opens.

The scheduler opens them when it places jobs (``scheduler_apply.apply``, in one batch);
``close_allocations`` is called by ``common.change_state`` whenever a job leaves a GPU-holding
state — so no path that frees GPUs can forget to close it. It works inside the caller's
transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpufleet.server.db.supply_rows import AllocationRow


def close_allocations(session: Session, job_id: int, now: datetime) -> None:
    """End the job's open allocation(s) at ``now`` (none open: nothing happens)."""
    for row in session.scalars(
        select(AllocationRow).where(
            AllocationRow.job_id == job_id, AllocationRow.ended_at.is_(None)
        )
    ):
        row.ended_at = max(now, row.started_at)
