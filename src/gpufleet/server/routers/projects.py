from __future__ import annotations

from fastapi import APIRouter, status

from gpufleet.server.deps import DbDep, NowDep, PrincipalDep
from gpufleet.server.schemas import ProjectCreate, ProjectPublic
from gpufleet.server.services import projects

router = APIRouter(tags=["projects"])


@router.get("/projects")
def list_projects(db: DbDep, principal: PrincipalDep) -> list[ProjectPublic]:
    return projects.list_projects(db, principal)


@router.post("/projects", status_code=status.HTTP_201_CREATED)
def create_project(
    body: ProjectCreate, db: DbDep, now: NowDep, principal: PrincipalDep
) -> ProjectPublic:
    return projects.create_project(db, principal, body, now)
