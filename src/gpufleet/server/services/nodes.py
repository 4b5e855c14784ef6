"""Nodes as users see them, and the node-loss check."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from gpufleet.domain.fleet import NodeState
from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import JobRow, NodeRow
from gpufleet.server.schemas import NodePublic
from gpufleet.server.services.auth import Principal
from gpufleet.server.services.common import HOLDING, node_public, record, requeue


def list_nodes(db: Database, principal: Principal) -> list[NodePublic]:
    del principal  # every role may list nodes
    with db.transaction() as session:
        rows = session.scalars(
            select(NodeRow).options(selectinload(NodeRow.gpus)).order_by(NodeRow.name)
        ).all()
        return [node_public(row) for row in rows]


def check_lost(db: Database, now: datetime, lost_after_s: float) -> list[str]:
    """Mark ``up`` nodes without a heartbeat for ``lost_after_s`` as ``lost`` and send their
    scheduled and running jobs back to pending (``attempts += 1``; a job whose cancel was
    requested is cancelled instead). Returns the names of the nodes it marked lost. Running it
    twice changes nothing more."""
    cutoff = now - timedelta(seconds=lost_after_s)
    lost: list[str] = []
    with db.transaction() as session:
        nodes = session.scalars(
            select(NodeRow)
            .where(NodeRow.state == NodeState.UP.value, NodeRow.last_heartbeat < cutoff)
            .order_by(NodeRow.id)
            .with_for_update()
        ).all()
        for node in nodes:
            node.state = NodeState.LOST.value
            seen = node.last_heartbeat.isoformat()
            record(session, now, "node.lost", f"no heartbeat since {seen}", node_id=node.id)
            lost.append(node.name)
            jobs = session.scalars(
                select(JobRow)
                .where(JobRow.node_id == node.id, JobRow.state.in_(HOLDING))
                .order_by(JobRow.id)
                .with_for_update()
            ).all()
            for job in jobs:
                requeue(session, job, now, f"node {node.name} lost")
    return lost
