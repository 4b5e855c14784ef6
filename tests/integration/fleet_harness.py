"""A control plane under test: the app on a real database, a fake clock, an HTTP client over
httpx's ASGI transport (driven synchronously through an anyio portal), and helpers that speak
``docs/api.md`` as the CLI and the agent will."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import anyio.from_thread
import httpx
from sqlalchemy import select

from gpufleet.server.app import create_app
from gpufleet.server.db.rows import EventRow
from gpufleet.server.provisioning import RecordingProvisioner
from gpufleet.server.services.auth import bootstrap_admin
from gpufleet.server.services.procurement import FollowReport
from gpufleet.server.services.scheduler import TickReport
from gpufleet.server.settings import Settings

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
API = "/api/v1"


class FakeClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class Fleet:
    """One server process: build a second ``Fleet`` on the same URL to "restart"."""

    def __init__(self, url: str, clock: FakeClock, admin: str | None = None) -> None:
        self.clock = clock
        self.settings = Settings(database_url=url, heartbeat_s=5, lost_after_heartbeats=3)
        self.provisioner = RecordingProvisioner()
        self.app = create_app(
            self.settings, clock=clock, start_loops=False, provisioner=self.provisioner
        )
        self.db = self.app.state.db
        self.admin = bootstrap_admin(self.db, clock()) or admin or ""
        self._portal_cm: AbstractContextManager[anyio.from_thread.BlockingPortal] = (
            anyio.from_thread.start_blocking_portal()
        )
        self.portal = self._portal_cm.__enter__()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://gpufleet"
        )

    def close(self) -> None:
        self.portal.call(self.http.aclose)
        self._portal_cm.__exit__(None, None, None)
        self.db.dispose()

    # ------------------------------------------------------------------ HTTP
    def request(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        url = path if path.startswith("/metrics") else API + path
        call = partial(self.http.request, method, url, headers=headers, **kwargs)
        return self.portal.call(call)

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, token, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, token, **kwargs)

    def ok(self, method: str, path: str, token: str | None, status: int = 200, **kw: Any) -> Any:
        response = self.request(method, path, token, **kw)
        assert response.status_code == status, (response.status_code, response.text)
        return response.json()

    # ------------------------------------------------------------------ loops
    def tick(self) -> TickReport:
        report: TickReport = self.app.state.loops.tick()
        return report

    def procure(self) -> FollowReport:
        report: FollowReport = self.app.state.loops.procure()
        return report

    def check_lost(self) -> list[str]:
        lost: list[str] = self.app.state.loops.check_lost()
        return lost

    # ------------------------------------------------------------------ setup helpers
    def project(self, name: str = "vision", **fields: Any) -> dict[str, Any]:
        body = {"name": name, **fields}
        result: dict[str, Any] = self.ok("POST", "/projects", self.admin, 201, json=body)
        return result

    def token(self, role: str, **fields: Any) -> str:
        body = {"user": fields.pop("user", f"{role}-user"), "role": role, **fields}
        created = self.ok("POST", "/tokens", self.admin, 201, json=body)
        return str(created["token"])

    def agent(self, name: str, gpus: int = 4, model: str = "H100-SXM") -> Agent:
        agent = Agent(self, name, self.token("agent", node=name, user=f"agent-{name}"))
        agent.register(gpus, model)
        return agent

    def submit(self, token: str | None = None, **fields: Any) -> dict[str, Any]:
        body = {"project": "vision", "command": ["python", "train.py"], **fields}
        job: dict[str, Any] = self.ok("POST", "/jobs", token or self.admin, 201, json=body)
        return job

    def job(self, job_id: int) -> dict[str, Any]:
        job: dict[str, Any] = self.ok("GET", f"/jobs/{job_id}", self.admin)
        return job

    def jobs(self) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = self.ok("GET", "/jobs", self.admin)
        return jobs

    def events(self, kind: str | None = None) -> list[tuple[str, int | None, str]]:
        with self.db.transaction() as session:
            query = select(EventRow).order_by(EventRow.id)
            if kind is not None:
                query = query.where(EventRow.kind == kind)
            return [(e.kind, e.job_id, e.message) for e in session.scalars(query)]


class Agent:
    """What the node agent does, one call at a time."""

    def __init__(self, fleet: Fleet, name: str, token: str) -> None:
        self.fleet = fleet
        self.name = name
        self.token = token
        self.running: set[int] = set()

    def register(
        self, gpus: int = 4, model: str = "H100-SXM", memory_gib: float = 80
    ) -> dict[str, Any]:
        body = {
            "name": self.name,
            "gpus": [
                {
                    "index": i,
                    "model": model,
                    "memory_gib": memory_gib,
                    "uuid": f"GPU-{self.name}-{i}",
                }
                for i in range(gpus)
            ],
            "simulated": True,
            "cpu_count": 32,
            "memory_gib": 256,
        }
        node: dict[str, Any] = self.fleet.ok("POST", "/agent/register", self.token, json=body)
        return node

    def heartbeat(self, **fields: Any) -> dict[str, Any]:
        body = {"node": self.name, "running": sorted(self.running), **fields}
        answer: dict[str, Any] = self.fleet.ok("POST", "/agent/heartbeat", self.token, json=body)
        return answer

    def start_assigned(self) -> list[int]:
        """Heartbeat, then start (and report) every job the answer lists."""
        started = []
        for start in self.heartbeat()["start"]:
            self.fleet.ok("POST", f"/agent/jobs/{start['job']}/started", self.token, json={})
            self.running.add(start["job"])
            started.append(start["job"])
        return started

    def finish(self, job_id: int, exit_code: int = 0, *, stopped: bool = False) -> dict[str, Any]:
        self.running.discard(job_id)
        body = {"exit_code": exit_code, "stopped": stopped}
        job: dict[str, Any] = self.fleet.ok(
            "POST", f"/agent/jobs/{job_id}/finished", self.token, json=body
        )
        return job


@contextmanager
def running_fleet(url: str, clock: FakeClock | None = None) -> Iterator[Fleet]:
    fleet = Fleet(url, clock or FakeClock())
    try:
        yield fleet
    finally:
        fleet.close()
