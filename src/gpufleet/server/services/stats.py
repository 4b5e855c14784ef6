"""Fleet figures for ``/metrics``, read from the database at scrape time (so every replica,
and a restarted server, reports the same)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select

from gpufleet.domain.job import JobState
from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import GpuRow, JobRow, NodeRow
from gpufleet.server.services.common import HOLDING


@dataclass(frozen=True, slots=True, kw_only=True)
class GpuSample:
    node: str
    index: int
    model: str
    node_state: str
    utilisation_pct: float | None
    memory_used_gib: float | None
    temperature_c: float | None
    power_w: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetStats:
    queue_length: int
    """Pending jobs."""
    allocated_gpus: Mapping[str, int]
    """GPUs held by scheduled and running jobs, per model."""
    gpus: tuple[GpuSample, ...]


def fleet_stats(db: Database) -> FleetStats:
    with db.transaction() as session:
        queue = session.scalar(
            select(func.count(JobRow.id)).where(JobRow.state == JobState.PENDING.value)
        )
        rows = session.execute(
            select(GpuRow, NodeRow).join(NodeRow).order_by(NodeRow.name, GpuRow.index)
        ).all()
        model_of = {(g.node_id, g.index): g.model for g, _ in rows}
        allocated: Counter[str] = Counter()
        for node_id, indices in session.execute(
            select(JobRow.node_id, JobRow.gpu_indices).where(JobRow.state.in_(HOLDING))
        ):
            for index in indices:
                allocated[model_of.get((node_id or 0, index), "unknown")] += 1
        return FleetStats(
            queue_length=int(queue or 0),
            allocated_gpus=dict(allocated),
            gpus=tuple(
                GpuSample(
                    node=n.name,
                    index=g.index,
                    model=g.model,
                    node_state=n.state,
                    utilisation_pct=g.utilisation_pct,
                    memory_used_gib=g.memory_used_gib,
                    temperature_c=g.temperature_c,
                    power_w=g.power_w,
                )
                for g, n in rows
            ),
        )
