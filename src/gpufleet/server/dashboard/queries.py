"""Read-only aggregates the dashboard needs and the API services do not offer.

Each is one short transaction returning plain values, with the visibility rules of
``services.jobs`` (a member counts only its own project's jobs). They belong with the services
if the API ever serves them too.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import func, select

from gpufleet.domain.job import JobState
from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import GpuRow, JobRow, ProjectRow
from gpufleet.server.schemas import Role
from gpufleet.server.services.auth import Principal, require
from gpufleet.server.services.common import HOLDING

UNKNOWN_MODEL = "unknown"
"""Where a held GPU's index is no longer registered on its node."""


def job_counts(db: Database, principal: Principal) -> dict[JobState, int]:
    """Jobs per state: every project's for an admin, its own project's for a member."""
    require(principal, Role.ADMIN, Role.MEMBER)
    query = select(JobRow.state, func.count(JobRow.id)).group_by(JobRow.state)
    if principal.role is Role.MEMBER:
        query = query.join(ProjectRow, JobRow.project_id == ProjectRow.id).where(
            ProjectRow.name == principal.project
        )
    with db.transaction() as session:
        return {JobState(state): int(count) for state, count in session.execute(query)}


def held_gpus(db: Database) -> dict[str, dict[str, int]]:
    """GPUs held by scheduled and running jobs, per project and GPU model (the quota figures
    every role may read, as ``ProjectPublic.running_gpus`` is; no job is named)."""
    with db.transaction() as session:
        models: dict[tuple[int | None, int], str] = {
            (node_id, index): model
            for node_id, index, model in session.execute(
                select(GpuRow.node_id, GpuRow.index, GpuRow.model)
            )
        }
        held: defaultdict[str, Counter[str]] = defaultdict(Counter)
        rows = session.execute(
            select(ProjectRow.name, JobRow.node_id, JobRow.gpu_indices)
            .join(ProjectRow, JobRow.project_id == ProjectRow.id)
            .where(JobRow.state.in_(HOLDING))
        )
        for project, node_id, indices in rows:
            for index in indices:
                held[project][models.get((node_id, index), UNKNOWN_MODEL)] += 1
    return {project: dict(counts) for project, counts in held.items()}
