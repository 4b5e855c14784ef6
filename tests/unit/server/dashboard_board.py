"""The dashboard's test server: the app on a SQLite file, a fake clock, no background loops (the
test drives them), HTTP over httpx's ASGI transport driven through an anyio portal, and helpers
that set the fleet up through the services or the REST API."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx

from gpufleet.server.app import create_app
from gpufleet.server.dashboard.session import COOKIE
from gpufleet.server.provisioning import RecordingProvisioner
from gpufleet.server.schemas import (
    GpuRegister,
    GpuTelemetry,
    Heartbeat,
    JobCreate,
    JobFinished,
    JobPublic,
    NodePublic,
    NodeRegister,
    ProjectCreate,
    Role,
    TokenCreate,
)
from gpufleet.server.services import agent, auth, jobs, projects
from gpufleet.server.services.auth import Principal
from gpufleet.server.settings import Settings

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ADMIN = Principal(user="admin", role=Role.ADMIN)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Board:
    """A server without background loops, its admin token, and setup helpers."""

    def __init__(self, url: str) -> None:
        self.clock = Clock()
        self.settings = Settings(database_url=url, heartbeat_s=5, lost_after_heartbeats=3)
        self.provisioner = RecordingProvisioner()
        self.app = create_app(
            self.settings, clock=self.clock, start_loops=False, provisioner=self.provisioner
        )
        self.db = self.app.state.db
        self.admin = auth.bootstrap_admin(self.db, self.clock()) or ""
        self._portal_cm: AbstractContextManager[anyio.from_thread.BlockingPortal] = (
            anyio.from_thread.start_blocking_portal()
        )
        self.portal = self._portal_cm.__enter__()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://dash.test"
        )

    def close(self) -> None:
        self.portal.call(self.http.aclose)
        self._portal_cm.__exit__(None, None, None)
        self.db.dispose()

    # ---------------------------------------------------------------- HTTP
    def request(
        self, method: str, path: str, token: str | None = None, *, hx: bool = False, **kw: Any
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["Cookie"] = f"{COOKIE}={token}"
        if hx:
            headers |= {"HX-Request": "true", "HX-Current-URL": f"http://dash.test{path}"}
        call = partial(self.http.request, method, path, headers=headers, **kw)
        return self.portal.call(call)

    def get(self, path: str, token: str | None = None, *, hx: bool = False) -> httpx.Response:
        return self.request("GET", path, token, hx=hx)

    def page(self, path: str, token: str | None = None, *, hx: bool = False) -> str:
        response = self.get(path, self.admin if token is None else token, hx=hx)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.text

    def login(self, token: str, **kw: Any) -> httpx.Response:
        return self.request("POST", "/login", data={"token": token, "next": "/jobs"}, **kw)

    def api(
        self, method: str, path: str, token: str | None = None, status: int = 200, **kw: Any
    ) -> Any:
        """The REST API (``/api/v1``) with a bearer token (the admin's by default); its JSON."""
        headers = {"Authorization": f"Bearer {token or self.admin}"}
        call = partial(self.http.request, method, f"/api/v1{path}", headers=headers, **kw)
        response = self.portal.call(call)
        assert response.status_code == status, (path, response.status_code, response.text)
        return response.json()

    def procure(self) -> None:
        self.app.state.loops.procure()

    # ---------------------------------------------------------------- setup via the services
    def token(self, role: Role, **fields: Any) -> str:
        body = TokenCreate(user=fields.pop("user", f"{role.value}-user"), role=role, **fields)
        return auth.create_token(self.db, ADMIN, body, self.clock()).token

    def project(self, name: str, quota: dict[str, int] | None = None) -> None:
        body = ProjectCreate(name=name, quota=quota or {})
        projects.create_project(self.db, ADMIN, body, self.clock())

    def node(
        self, name: str, gpus: int = 2, model: str = "H100-SXM", *, simulated: bool = True
    ) -> NodePublic:
        gpu_list = [GpuRegister(index=i, model=model, memory_gib=80) for i in range(gpus)]
        body = NodeRegister(name=name, gpus=gpu_list, simulated=simulated)
        return agent.register(self.db, ADMIN, body, self.clock())

    def heartbeat(self, node: str, running: list[int], utilisation: list[float]) -> list[int]:
        telemetry = [
            GpuTelemetry(index=i, utilisation_pct=u, memory_used_gib=40.0, temperature_c=61.0,
                         power_w=350.0)
            for i, u in enumerate(utilisation)
        ]  # fmt: skip
        body = Heartbeat(node=node, telemetry=telemetry, running=running)
        answer = agent.heartbeat(self.db, ADMIN, body, self.clock(), heartbeat_s=5, lost_after_s=15)
        return [start.job for start in answer.start]

    def submit(self, project: str, name: str = "", gpus: int = 1) -> JobPublic:
        body = JobCreate(
            project=project, command=["python", "-c", "print(1)"], gpus=gpus, name=name
        )
        return jobs.submit(self.db, ADMIN, body, self.clock())

    def run(self, job_id: int, node: str, lines: list[str], exit_code: int | None = None) -> None:
        """Schedule the job, start it on ``node``, log ``lines`` and (if given) exit."""
        self.app.state.loops.tick()
        assert job_id in self.heartbeat(node, [], [])
        agent.started(self.db, ADMIN, job_id, self.clock())
        agent.append_logs(self.db, ADMIN, job_id, lines)
        if exit_code is not None:
            agent.finished(self.db, ADMIN, job_id, JobFinished(exit_code=exit_code), self.clock())


@contextmanager
def open_board(template: Path, directory: Path) -> Iterator[Board]:
    """A board on a copy of the migrated ``template`` database, in ``directory``."""
    path = directory / "gpufleet.db"
    shutil.copyfile(template, path)
    server = Board(f"sqlite+pysqlite:///{path}")
    try:
        yield server
    finally:
        server.close()
