"""Allocations: the GPUs a job holds on a node, from the moment it is scheduled until it lets
them go (finished, cancelled, preempted, requeued). Each is a usage record: accounting prices
it with the contract price of the node's GPUs, copied in when the allocation opens.

``open_allocation`` is called by the scheduler when it places a job; ``close_allocations`` by
``common.change_state`` whenever a job leaves a GPU-holding state — so no path that frees GPUs
can forget to close it. Both work inside the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpufleet.server.db.rows import JobRow, NodeRow
from gpufleet.server.db.supply_rows import AllocationRow


def open_allocation(
    session: Session, job: JobRow, node: NodeRow, model: str, now: datetime
) -> AllocationRow:
    row = AllocationRow(
        job_id=job.id,
        project_id=job.project_id,
        node_id=node.id,
        node_name=node.name,
        gpu=model,
        gpus=len(job.gpu_indices),
        gpu_indices=list(job.gpu_indices),
        supplier=node.supplier,
        contract=node.contract,
        price_usd_per_gpu_hour=node.price_usd_per_gpu_hour,
        started_at=now,
    )
    session.add(row)
    return row


def close_allocations(session: Session, job_id: int, now: datetime) -> None:
    """End the job's open allocation(s) at ``now`` (none open: nothing happens)."""
    for row in session.scalars(
        select(AllocationRow).where(
            AllocationRow.job_id == job_id, AllocationRow.ended_at.is_(None)
        )
    ):
        row.ended_at = max(now, row.started_at)
