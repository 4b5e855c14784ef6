"""``create_app(settings)``: the control plane's FastAPI app.

It migrates the database (Alembic, ``upgrade head``) when built, mounts the routers under
``/api/v1`` (``/metrics`` and the web dashboard, ``server.dashboard``, at the root), maps service
errors to 4xx answers with their message as ``detail`` (these and the 422s of schema validation
quote the input, which may hold text UTF-8 cannot encode: it is answered as U+FFFD, never a
500), and — unless ``start_loops=False`` — runs the scheduler, node-loss and procurement loops
for the app's lifetime. ``app.state.loops`` exposes ``tick(now)``, ``check_lost(now)`` and
``procure(now)`` for tests and tools that drive the loops themselves. ``provisioner`` starts
agents on machines suppliers deliver (``provisioning.py``); without one, delivered nodes wait
for an agent started by hand.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gpufleet.scheduling.core import make_policy
from gpufleet.server import dashboard
from gpufleet.server.clock import Clock, utc_now
from gpufleet.server.db.engine import Database, upgrade
from gpufleet.server.errors import ServiceError, UnauthorizedError
from gpufleet.server.loops import Loops
from gpufleet.server.metrics import Metrics
from gpufleet.server.provisioning import Provisioner
from gpufleet.server.routers import (
    agent,
    costs,
    health,
    history,
    jobs,
    metrics,
    nodes,
    orders,
    plans,
    projects,
    suppliers,
    tokens,
)
from gpufleet.server.settings import Settings

API_PREFIX = "/api/v1"


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = utc_now,
    start_loops: bool = True,
    provisioner: Provisioner | None = None,
) -> FastAPI:
    settings = settings or Settings.from_env(os.environ)
    make_policy(settings.policy)  # an unknown policy fails here, naming the known ones
    db = Database(settings.database_url)
    upgrade(db.engine)
    loops = Loops(db, settings, clock, Metrics(), provisioner)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_loops:
            loops.start()
        try:
            yield
        finally:
            await loops.stop()
            db.dispose()

    app = FastAPI(title="gpufleet control plane", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.db = db
    app.state.clock = clock
    app.state.metrics = loops.metrics
    app.state.loops = loops
    app.state.provisioner = provisioner
    for router in (
        health, tokens, projects, jobs, nodes, agent, suppliers, orders, plans, costs, history,
    ):  # fmt: skip
        app.include_router(router.router, prefix=API_PREFIX)
    app.include_router(metrics.router)
    dashboard.install(app)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    return app


_UNENCODABLE = re.compile("[\ud800-\udfff]")
"""Lone surrogates: JSON's ``\\ud800`` escapes decode to them, and UTF-8 cannot encode them."""


class ErrorResponse(JSONResponse):
    """An error body that quotes the request: what UTF-8 cannot encode becomes U+FFFD."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return _UNENCODABLE.sub("\ufffd", text).encode("utf-8")


async def _service_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)  # noqa: S101 - registered for ServiceError only
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, UnauthorizedError) else None
    return ErrorResponse({"detail": exc.message}, status_code=exc.status_code, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 (the errors, each naming its field), rendered as ``ErrorResponse``."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
    return ErrorResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
