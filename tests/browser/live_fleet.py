"""A live fleet for browser tests: the server under uvicorn on a free loopback port (SQLite in
a given folder, background loops on a short tick) and a real node agent with fake GPUs, each in
a thread.

Nothing waits on a fixed sleep: the server's socket is bound and listening before uvicorn
starts, so the first request queues until it serves; tests wait with Playwright's auto-waiting
``expect``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from gpufleet.agent.agent import run_agent
from gpufleet.agent.config import AgentConfig
from gpufleet.server.app import create_app
from gpufleet.server.clock import utc_now
from gpufleet.server.services.auth import bootstrap_admin
from gpufleet.server.settings import Settings

NODE = "sim-node-1"
PROJECT = "demo"
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class LiveFleet:
    url: str
    admin: str
    """The admin API token."""
    work_dir: Path
    """Where the agent runs jobs."""

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.admin}"}
        response = httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, **kwargs)
        assert response.is_success, (response.status_code, response.text)
        return response.json()


class _Thread(threading.Thread):
    """A daemon thread whose exception ``join_or_raise`` raises in the test's thread."""

    def __init__(self, name: str, target: Callable[..., object], **kwargs: Any) -> None:
        super().__init__(name=name, daemon=True)
        self._target_call = target
        self._target_kwargs = kwargs
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_call(**self._target_kwargs)
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            self.error = error

    def join_or_raise(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        self.join(timeout_s)
        assert not self.is_alive(), f"{self.name} did not stop within {timeout_s} s"
        if self.error is not None:
            raise self.error


@contextmanager
def live_fleet(folder: Path) -> Iterator[LiveFleet]:
    """A server with an admin token and a project ``demo`` (2 H100-SXM guaranteed), and the
    agent of node ``sim-node-1`` with 2 fake H100-SXM GPUs running jobs in ``folder/jobs``."""
    settings = Settings(
        database_url=f"sqlite+pysqlite:///{folder / 'gpufleet.db'}",
        heartbeat_s=0.5,
        lost_after_heartbeats=60,  # a busy CI machine must not make the node "lost"
        tick_s=0.2,
    )
    app = create_app(settings)
    admin = bootstrap_admin(app.state.db, utc_now()) or ""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections wait here until uvicorn serves
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none", lifespan="on"))
    server_thread = _Thread("uvicorn", server.run, sockets=[sock])
    server_thread.start()
    fleet = LiveFleet(url=url, admin=admin, work_dir=folder / "jobs")
    fleet.work_dir.mkdir()
    stop = threading.Event()
    agent_thread: _Thread | None = None
    try:
        fleet.api("POST", "/projects", json={"name": PROJECT, "quota": {"H100-SXM": 2}})
        agent_token = fleet.api(
            "POST", "/tokens", json={"user": f"agent-{NODE}", "role": "agent", "node": NODE}
        )["token"]
        config = AgentConfig(
            server_url=url,
            token=agent_token,
            name=NODE,
            fake_gpus="2xH100-SXM",
            poll_s=0.1,
            grace_s=2.0,
            work_dir=fleet.work_dir,
        )
        agent_thread = _Thread("agent", run_agent, config=config, stop_event=stop)
        agent_thread.start()
        yield fleet
    finally:
        stop.set()
        if agent_thread is not None:
            agent_thread.join_or_raise()
        server.should_exit = True
        server_thread.join_or_raise()
        sock.close()
