from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from gpufleet.domain.job import JobState
from gpufleet.server.deps import DbDep, JobIdPath, NowDep, PrincipalDep
from gpufleet.server.schemas import INT32_MAX, NAME_PATTERN, JobCreate, JobPublic, LogPage
from gpufleet.server.services import jobs

router = APIRouter(tags=["jobs"])


@router.post("/jobs", status_code=status.HTTP_201_CREATED)
def submit(body: JobCreate, db: DbDep, now: NowDep, principal: PrincipalDep) -> JobPublic:
    return jobs.submit(db, principal, body, now)


@router.get("/jobs")
def list_jobs(
    db: DbDep,
    principal: PrincipalDep,
    project: Annotated[str | None, Query(min_length=1, max_length=64, pattern=NAME_PATTERN)] = None,
    state: JobState | None = None,
    limit: Annotated[int, Query(ge=1, le=jobs.MAX_LIST)] = 100,
) -> list[JobPublic]:
    return jobs.list_jobs(db, principal, project=project, state=state, limit=limit)


@router.get("/jobs/{job_id}")
def get_job(job_id: JobIdPath, db: DbDep, principal: PrincipalDep) -> JobPublic:
    return jobs.get_job(db, principal, job_id)


@router.post("/jobs/{job_id}/cancel")
def cancel(job_id: JobIdPath, db: DbDep, now: NowDep, principal: PrincipalDep) -> JobPublic:
    return jobs.cancel(db, principal, job_id, now)


@router.get("/jobs/{job_id}/logs")
def logs(
    job_id: JobIdPath,
    db: DbDep,
    principal: PrincipalDep,
    after: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=jobs.MAX_LOG_LINES)] = jobs.MAX_LOG_LINES,
) -> LogPage:
    return jobs.read_logs(db, principal, job_id, after=after, limit=limit)
