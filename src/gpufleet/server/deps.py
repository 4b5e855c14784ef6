"""FastAPI dependencies: the database, the time, the caller, path ids (``Annotated`` aliases)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gpufleet.server.db.engine import Database
from gpufleet.server.provisioning import Provisioner
from gpufleet.server.schemas import INT32_MAX
from gpufleet.server.services.auth import Principal, authenticate
from gpufleet.server.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="An API token (POST /api/v1/tokens)")


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_now(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


def get_provisioner(request: Request) -> Provisioner | None:
    provisioner: Provisioner | None = getattr(request.app.state, "provisioner", None)
    return provisioner


DbDep = Annotated[Database, Depends(get_db)]
ProvisionerDep = Annotated[Provisioner | None, Depends(get_provisioner)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(get_now)]
JobIdPath = Annotated[int, Path(ge=1, le=INT32_MAX, description="A job id")]
IdPath = Annotated[int, Path(ge=1, le=INT32_MAX, description="A row id")]
"""Any other resource's id in a path, bounded the same way."""
IdQuery = Annotated[int | None, Query(ge=1, le=INT32_MAX)]
"""An id given as a query filter (``?job=``)."""
"""Ids are positive ``Integer`` keys: one out of that range is a 422 naming ``job_id``."""


def get_principal(
    db: DbDep,
    now: NowDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return authenticate(db, credentials.credentials if credentials else None, now)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
