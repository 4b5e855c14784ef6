"""What each page shows, built from the services (one call per figure, each its own short
transaction) into frozen values the templates render. Role rules are the services': a member's
job lists and counts cover its own project only."""

from __future__ import annotations

import shlex
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from gpufleet.domain.fleet import NodeState
from gpufleet.domain.job import JobState
from gpufleet.server.dashboard import queries
from gpufleet.server.dashboard.charts import LineChart, utilisation_chart
from gpufleet.server.dashboard.history import UtilisationHistory
from gpufleet.server.db.engine import Database
from gpufleet.server.errors import BadInputError
from gpufleet.server.schemas import JobPublic, LogLine, NodePublic, ProjectPublic, Role
from gpufleet.server.services import jobs, nodes, projects, stats
from gpufleet.server.services.auth import Principal

JOBS_SHOWN = 200
"""Newest jobs listed on ``/jobs``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelCapacity:
    model: str
    gpus: int
    """On up nodes (schedulable)."""
    allocated: int
    """Held by scheduled and running jobs."""
    unavailable: int
    """On lost or draining nodes."""
    utilisation_pct: float | None
    """Mean over its GPUs on up nodes that report one."""

    @property
    def free(self) -> int:
        return max(self.gpus - self.allocated, 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Overview:
    models: tuple[ModelCapacity, ...]
    total: ModelCapacity
    simulated_gpus: int
    queue_length: int
    """Pending jobs, every project's (as ``/metrics`` reports)."""
    jobs_by_state: tuple[tuple[str, int], ...]
    scope: str | None
    """The member's project its job counts cover; ``None``: every project."""
    chart: LineChart | None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def overview(
    db: Database, principal: Principal, now: datetime, history: UtilisationHistory
) -> Overview:
    """The fleet's figures now; also records the fleet's mean utilisation in ``history``."""
    fleet = nodes.list_nodes(db, principal)
    figures = stats.fleet_stats(db)
    counts = queries.job_counts(db, principal)
    gpus: defaultdict[str, int] = defaultdict(int)
    unavailable: defaultdict[str, int] = defaultdict(int)
    utilisation: defaultdict[str, list[float]] = defaultdict(list)
    for node in fleet:
        for gpu in node.gpus:
            if node.state is not NodeState.UP:
                unavailable[gpu.model] += 1
                continue
            gpus[gpu.model] += 1
            if gpu.utilisation_pct is not None:
                utilisation[gpu.model].append(gpu.utilisation_pct)
    names = sorted(set(gpus) | set(unavailable) | set(figures.allocated_gpus))
    models = tuple(
        ModelCapacity(
            model=name,
            gpus=gpus[name],
            allocated=figures.allocated_gpus.get(name, 0),
            unavailable=unavailable[name],
            utilisation_pct=_mean(utilisation[name]),
        )
        for name in names
    )
    fleet_pct = _mean([pct for values in utilisation.values() for pct in values])
    history.record(now, fleet_pct)
    return Overview(
        models=models,
        total=ModelCapacity(
            model="all",
            gpus=sum(m.gpus for m in models),
            allocated=sum(m.allocated for m in models),
            unavailable=sum(m.unavailable for m in models),
            utilisation_pct=fleet_pct,
        ),
        simulated_gpus=sum(1 for node in fleet for gpu in node.gpus if gpu.simulated),
        queue_length=figures.queue_length,
        jobs_by_state=tuple((state.value, counts.get(state, 0)) for state in JobState),
        scope=principal.project if principal.role is Role.MEMBER else None,
        chart=utilisation_chart(history.recent(now), now),
    )


def fleet_nodes(db: Database, principal: Principal) -> list[NodePublic]:
    return nodes.list_nodes(db, principal)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobList:
    jobs: tuple[JobPublic, ...]
    project: str | None
    state: JobState | None
    projects: tuple[str, ...]
    """The project filter's choices besides "all": every project for an admin, none for a
    member (its list is always its own project's)."""
    limit: int
    states: tuple[str, ...] = tuple(s.value for s in JobState)

    @property
    def query(self) -> str:
        """The filters as a query string (``?state=running``), empty without filters."""
        chosen = {"project": self.project or "", "state": self.state.value if self.state else ""}
        kept = {k: v for k, v in chosen.items() if v}
        return f"?{urlencode(kept)}" if kept else ""


def parse_state(value: str) -> JobState | None:
    """A job state from a form field; empty means any; ``BadInputError`` names the choices."""
    if not value:
        return None
    try:
        return JobState(value)
    except ValueError:
        known = ", ".join(s.value for s in JobState)
        raise BadInputError(f"state: unknown job state {value!r} (one of {known})") from None


def job_list(db: Database, principal: Principal, *, project: str, state: str) -> JobList:
    wanted = parse_state(state)
    chosen = project or None
    listed = jobs.list_jobs(db, principal, project=chosen, state=wanted, limit=JOBS_SHOWN)
    choices: tuple[str, ...] = ()  # a member's only choice is its project, the default
    if principal.role is not Role.MEMBER:
        choices = tuple(p.name for p in projects.list_projects(db, principal))
    return JobList(
        jobs=tuple(listed), project=chosen, state=wanted, projects=choices, limit=JOBS_SHOWN
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class JobDetail:
    job: JobPublic
    command: str
    """The command as a shell would read it."""
    lines: tuple[LogLine, ...]
    """Log lines after the ``after`` asked for."""
    next: int
    """The last line's sequence number so far (where the next poll reads on)."""
    live: bool
    """More may come: the job is not final, or this read stopped at the page limit."""


def job_detail(db: Database, principal: Principal, job_id: int, *, after: int) -> JobDetail:
    # The job first, then its logs: an agent sends every line before ``finished``, so a job
    # read as final has all its lines in the read that follows.
    job = jobs.get_job(db, principal, job_id)
    page = jobs.read_logs(db, principal, job_id, after=after)
    return JobDetail(
        job=job,
        command=shlex.join(job.command),
        lines=tuple(page.lines),
        next=page.next,
        live=not job.state.final or len(page.lines) >= jobs.MAX_LOG_LINES,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class QuotaUse:
    model: str
    quota: int
    """Guaranteed GPUs of this model (0: none; it may still borrow idle ones)."""
    used: int

    @property
    def borrowed(self) -> int:
        return max(self.used - self.quota, 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectUse:
    project: ProjectPublic
    models: tuple[QuotaUse, ...]
    mine: bool
    """The viewer is a member of it."""


def project_use(db: Database, principal: Principal) -> list[ProjectUse]:
    listed = projects.list_projects(db, principal)
    held = queries.held_gpus(db)
    result = []
    for project in listed:
        used = held.get(project.name, {})
        result.append(
            ProjectUse(
                project=project,
                models=tuple(
                    QuotaUse(model=m, quota=project.quota.get(m, 0), used=used.get(m, 0))
                    for m in sorted(set(project.quota) | set(used))
                ),
                mine=principal.project == project.name,
            )
        )
    return result
