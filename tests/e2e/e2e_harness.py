"""End-to-end harness, all on loopback: the server is ``gpufleet up`` as a real subprocess (so it
can be SIGKILLed), agents are ``run_agent`` threads with fake GPUs whose jobs are real
subprocesses, and the CLI runs in-process through Typer's runner against the server's URL.

Timing is short (heartbeat 0.5 s, tick 0.2 s) and every wait is a poll with a deadline.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from typer.testing import CliRunner

from gpufleet.agent import AgentConfig, run_agent
from gpufleet.cli.main import app as cli_app

HEARTBEAT_S = 0.5
TICK_S = 0.2
STARTUP_S = 60.0
"""A cold `python -m gpufleet.cli.main` imports the whole CLI: seconds on a busy machine."""

_T = TypeVar("_T")
GROUPS = {"projects", "tokens", "suppliers", "orders", "demand", "plans"}
"""Commands with subcommands: the connection options go after the subcommand's name."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(
    check: Callable[[], _T],
    timeout_s: float,
    what: str,
    context: Callable[[], str] = lambda: "",
) -> _T:
    """Poll ``check`` every 50 ms until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}\n{context()}")
        pause.wait(0.05)


def script(*lines: str) -> list[str]:
    """A job command: this Python running ``lines``."""
    return [sys.executable, "-c", "\n".join(lines)]


class ServerProcess:
    """``gpufleet up`` on ``port`` with ``data_dir``; ``--no-agent`` unless ``args`` say more."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        logs: Path,
        *,
        args: tuple[str, ...] = ("--no-agent",),
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.args = args
        self.env = env or {}
        self.logs = logs
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("GPUFLEET_")}
        env |= {"GPUFLEET_HEARTBEAT_S": str(HEARTBEAT_S), "GPUFLEET_TICK_S": str(TICK_S)}
        env |= {"COLUMNS": "200", **self.env}
        command = [sys.executable, "-m", "gpufleet.cli.main", "up", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--data-dir", str(self.data_dir), *self.args]
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.proc = subprocess.Popen(command, stdout=out, stderr=err, env=env)  # noqa: S603
        wait_for(self._healthy, STARTUP_S, f"the server at {self.url}", self.output)

    @property
    def stdout(self) -> Path:
        return self.logs / f"server-{self.runs}.out"

    @property
    def stderr(self) -> Path:
        return self.logs / f"server-{self.runs}.err"

    def output(self) -> str:
        return f"--- stdout\n{self.stdout.read_text()}\n--- stderr\n{self.stderr.read_text()}"

    def admin_token(self) -> str:
        return (self.data_dir / "admin-token").read_text().strip()

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"the server exited with {self.proc.returncode}\n{self.output()}")
        try:
            return httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def signal(self, signum: signal.Signals, timeout_s: float = 30.0) -> int:
        """Send ``signum`` and wait for the process to end; its exit code."""
        assert self.proc is not None
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"the server did not stop on {signum.name}\n{self.output()}")

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class AgentThread:
    """``run_agent`` with fake GPUs in a thread; ``stop`` is what Ctrl-C does to the agent."""

    def __init__(self, url: str, token: str, name: str, fake_gpus: str = "4xH100-SXM") -> None:
        self.config = AgentConfig(
            server_url=url,
            token=token,
            name=name,
            fake_gpus=fake_gpus,
            heartbeat_s=HEARTBEAT_S,
            poll_s=0.05,
            grace_s=2.0,
            timeout_s=5.0,
            retries=2,
            backoff_s=0.1,
            backoff_max_s=0.5,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"agent-{self.config.name}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        try:
            run_agent(self.config, stop_event=self._stop)
        except BaseException as exc:
            self.error = exc
            raise

    def stop(self) -> None:
        self.halt()
        assert self._thread is None or not self._thread.is_alive(), "the agent did not stop"
        assert self.error is None, self.error

    def halt(self) -> None:
        """Stop it (its jobs too) without judging how it went: for teardown."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)


class Cli:
    """``gpufleet ...`` in-process, against one server with one token."""

    def __init__(self, runner: CliRunner, url: str, token: str) -> None:
        self.runner = runner
        self.url = url
        self.token = token

    def __call__(self, *args: str) -> Any:
        """Runs ``args`` (connection options right after the command's name)."""
        grouped = args[0] in GROUPS and len(args) > 1 and not args[1].startswith("-")
        depth = 2 if grouped else 1
        full = [*args[:depth], "--server", self.url, "--token", self.token, *args[depth:]]
        return self.runner.invoke(cli_app, full)

    def ok(self, *args: str) -> Any:
        result = self(*args)
        assert result.exit_code == 0, (args, result.output)
        return result
