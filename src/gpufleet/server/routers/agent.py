"""The agent protocol (``docs/api.md``): register, heartbeat, job reports."""

from __future__ import annotations

from fastapi import APIRouter

from gpufleet.server.deps import DbDep, IdPath, JobIdPath, NowDep, PrincipalDep, SettingsDep
from gpufleet.server.schemas import (
    Assignments,
    Empty,
    Heartbeat,
    JobFinished,
    JobLogs,
    JobPublic,
    JobStarted,
    NodePublic,
    NodeRegister,
)
from gpufleet.server.schemas_supply import AcceptanceReport, AcceptanceVerdict
from gpufleet.server.services import acceptance, agent

router = APIRouter(prefix="/agent", tags=["agent"])


@router.post("/register")
def register(body: NodeRegister, db: DbDep, now: NowDep, principal: PrincipalDep) -> NodePublic:
    return agent.register(db, principal, body, now)


@router.post("/heartbeat")
def heartbeat(
    body: Heartbeat, db: DbDep, now: NowDep, settings: SettingsDep, principal: PrincipalDep
) -> Assignments:
    return agent.heartbeat(
        db, principal, body, now,
        heartbeat_s=settings.heartbeat_s, lost_after_s=settings.lost_after_s,
        burn_in_s=settings.acceptance_burn_in_s,
    )  # fmt: skip


@router.post("/jobs/{job_id}/started")
def started(
    job_id: JobIdPath,
    db: DbDep,
    now: NowDep,
    principal: PrincipalDep,
    body: JobStarted | None = None,
) -> JobPublic:
    del body  # nothing in it yet
    return agent.started(db, principal, job_id, now)


@router.post("/jobs/{job_id}/logs")
def logs(job_id: JobIdPath, body: JobLogs, db: DbDep, principal: PrincipalDep) -> Empty:
    agent.append_logs(db, principal, job_id, body.lines)
    return Empty()


@router.post("/jobs/{job_id}/finished")
def finished(
    job_id: JobIdPath, body: JobFinished, db: DbDep, now: NowDep, principal: PrincipalDep
) -> JobPublic:
    return agent.finished(db, principal, job_id, body, now)


@router.post("/acceptance/{test_id}")
def acceptance_report(
    test_id: IdPath, body: AcceptanceReport, db: DbDep, now: NowDep, principal: PrincipalDep
) -> AcceptanceVerdict:
    return acceptance.report(db, principal, test_id, body, now)
