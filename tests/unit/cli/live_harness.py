"""A real control plane for CLI tests: the app on SQLite, served by uvicorn on a free loopback
port in a thread, its loops off. Tests play the agent's part through the API (an admin token may
act as any node) and drive the scheduler with ``loops.tick()``, so nothing waits on a timer.
The fixtures (``template``, ``live``, ``runner``) are registered in ``conftest.py``."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from gpufleet.cli.main import app as cli
from gpufleet.server.app import create_app
from gpufleet.server.clock import utc_now
from gpufleet.server.db.engine import migrate
from gpufleet.server.services.auth import bootstrap_admin
from gpufleet.server.settings import Settings

NODE = "n1"


@dataclass
class LiveServer:
    url: str
    admin: str
    app: FastAPI
    http: httpx.Client
    """Speaks as the admin (who may also act as any node)."""

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    def register(self, gpus: int = 4) -> None:
        body = {
            "name": NODE,
            "gpus": [{"index": i, "model": "H100-SXM", "memory_gib": 80} for i in range(gpus)],
            "simulated": True,
        }
        self.ok("POST", "/agent/register", json=body)

    def start(self, job_id: int, lines: list[str] | None = None) -> None:
        """Schedule, start and log ``job_id`` as its agent would."""
        self.app.state.loops.tick()
        answer = self.ok("POST", "/agent/heartbeat", json={"node": NODE, "running": []})
        assert job_id in [s["job"] for s in answer["start"]]
        self.ok("POST", f"/agent/jobs/{job_id}/started", json={})
        if lines:
            self.ok("POST", f"/agent/jobs/{job_id}/logs", json={"lines": lines})

    def finish(self, job_id: int, exit_code: int) -> None:
        self.ok("POST", f"/agent/jobs/{job_id}/finished", json={"exit_code": exit_code})

    def submit(self, **fields: Any) -> int:
        body = {"project": "default", "command": ["python", "train.py"], **fields}
        return int(self.ok("POST", "/jobs", 201, json=body)["id"])


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "gpufleet.db"
    migrate(f"sqlite+pysqlite:///{path}")
    return path


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


def wait_until(check: Any, timeout_s: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        pause.wait(0.01)


@pytest.fixture
def live(tmp_path: Path, template: Path) -> Iterator[LiveServer]:
    database = tmp_path / "gpufleet.db"
    shutil.copyfile(template, database)
    app = create_app(Settings(database_url=f"sqlite+pysqlite:///{database}"), start_loops=False)
    admin = bootstrap_admin(app.state.db, utc_now())
    assert admin is not None
    sock = free_socket()
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="uvicorn")
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    http = httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {admin}"})
    live = LiveServer(url, admin, app, http)
    live.ok("POST", "/projects", 201, json={"name": "default"})
    try:
        yield live
    finally:
        http.close()
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    for name in ("GPUFLEET_TOKEN", "GPUFLEET_SERVER", "GPUFLEET_PROJECT", "GPUFLEET_AGENT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no ./.gpufleet/admin-token from wherever pytest runs
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def run(runner: CliRunner, live: LiveServer, *args: str, token: str | None = None) -> Any:
    """``gpufleet ARGS`` against ``live`` with its admin token (or ``token``)."""
    options = ["--server", live.url, "--token", token or live.admin]
    if "--" in args:
        at = args.index("--")
        full = [*args[:at], *options, *args[at:]]
    else:
        full = [*args, *options]
    return runner.invoke(cli, full)


def assert_error(result: Any, *fragments: str, code: int = 1) -> None:
    assert result.exit_code == code, (result.exit_code, result.output)
    assert result.stderr.splitlines()[-1].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in " ".join(result.stderr.split()), result.stderr


# ---------------------------------------------------------------------- submit / jobs
