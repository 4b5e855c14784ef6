"""``gpufleet up``: the control plane and a local agent in one process.

``up`` guarantees:

* The database (SQLite in ``--data-dir`` unless ``--database-url`` or
  ``$GPUFLEET_DATABASE_URL`` names another) is migrated before anything listens.
* One admin token per data dir: made on the first start, saved in ``<data-dir>/admin-token``
  (mode 0600) and reused by every later start on the same data dir; a saved token the database
  does not know (a new database, a deleted file) is replaced and saved again.
* A ``default`` project exists, and the local agent's token (``<data-dir>/agent-token``) is
  valid for its node. The local agent uses NVML when the driver is there, else fake GPUs
  (``4xH100-SXM`` unless ``--fake-gpus`` says otherwise), and says they are simulated.
* Machines that simulated suppliers deliver run as agents in this process
  (``local_provisioner``), and come back on the next start.
* The server (uvicorn, with the scheduler, node-loss and procurement loops) runs in a thread
  and the agent in another; the main thread only waits for SIGINT/SIGTERM. Stopping stops the
  agents first: they SIGTERM their jobs and report them stopped, so they are pending again
  (``attempts + 1``) and run when ``up`` starts again; then the server. A second Ctrl-C exits
  without waiting.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI
from rich.markup import escape
from sqlalchemy import make_url

from gpufleet.agent import AgentConfig, GpuSourceError, nvml, run_agent
from gpufleet.agent.fake import parse_fake_gpus
from gpufleet.cli.agent_commands import configure_logging
from gpufleet.cli.client import ADMIN_TOKEN_FILE, DEFAULT_DATA_DIR, DEFAULT_SERVER
from gpufleet.cli.console import err, fail, out
from gpufleet.cli.local_provisioner import LocalProvisioner
from gpufleet.domain.fleet import NodeState
from gpufleet.server.app import create_app
from gpufleet.server.clock import utc_now
from gpufleet.server.db.engine import Database
from gpufleet.server.errors import ConflictError, ServiceError
from gpufleet.server.schemas import ProjectCreate, Role, TokenCreate
from gpufleet.server.services import auth, nodes, projects
from gpufleet.server.settings import Settings

DEFAULT_FAKE_GPUS = "4xH100-SXM"
DEFAULT_PROJECT = "default"
AGENT_TOKEN_FILE = "agent-token"  # noqa: S105 - a file name, not a secret
STARTUP_TIMEOUT_S = 30.0
REGISTER_TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class LocalAgent:
    config: AgentConfig
    gpus: str
    """What it runs on, in words."""


def up(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8080,
    data_dir: Annotated[
        Path, typer.Option(help="SQLite database, admin and agent tokens.")
    ] = DEFAULT_DATA_DIR,
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="GPUFLEET_DATABASE_URL",
            help="Another database, e.g. postgresql+psycopg://USER@HOST/DB. "
            "Default: SQLite in --data-dir.",
            show_default=False,
        ),
    ] = None,
    fake_gpus: Annotated[
        str | None,
        typer.Option(
            help=f"The local agent's simulated GPUs. Default: the real ones through NVML, or "
            f"{DEFAULT_FAKE_GPUS} (simulated) without an NVIDIA driver.",
            show_default=False,
        ),
    ] = None,
    no_agent: Annotated[
        bool, typer.Option("--no-agent", help="Serve only; agents run elsewhere.")
    ] = False,
) -> None:
    """Start the control plane: API and dashboard, scheduler, and one local agent."""
    configure_logging()
    settings = _settings(data_dir, database_url)
    sock = _listen(host, port)
    url = f"http://{_connect_host(host)}:{sock.getsockname()[1]}"
    provisioner = LocalProvisioner(url, heartbeat_s=settings.heartbeat_s)
    try:
        app = _open(settings, provisioner)
        db: Database = app.state.db
        admin = _admin_token(db, data_dir / ADMIN_TOKEN_FILE)
        _ensure_project(db, admin)
        local = None if no_agent else _local_agent(db, admin, data_dir, url, fake_gpus, settings)
    except BaseException:
        sock.close()
        raise
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    _serve(server, db, sock, local, url, admin, data_dir, settings, provisioner)


def _open(settings: Settings, provisioner: LocalProvisioner) -> FastAPI:
    try:
        return create_app(settings, provisioner=provisioner)
    except Exception as exc:  # noqa: BLE001 - the database is unreachable or its schema broken
        raise fail(f"cannot open the database {_shown(settings.database_url)}: {exc}", 1) from None


def _settings(data_dir: Path, database_url: str | None) -> Settings:
    try:
        base = Settings.from_env(os.environ)
        url = database_url or f"sqlite+pysqlite:///{data_dir / 'gpufleet.db'}"
        return replace(base, database_url=url)
    except ValueError as exc:
        raise fail(str(exc)) from None


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on connections of a socket that says it
    # is TCP. Without it, Nagle held each response's body until the client's delayed ACK of its
    # headers: every API call took 40 ms more (benchmarks/control_plane.py).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = " (is `gpufleet up` already running? try --port)" if port else ""
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}", 1) from None
    sock.listen(128)
    return sock


def _connect_host(host: str) -> str:
    """Where a client on this machine reaches a server listening on ``host``."""
    if host in {"", "0.0.0.0"}:  # noqa: S104 - mapping the wildcard, not binding it
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _admin_token(db: Database, path: Path) -> str:
    """The saved admin token if the database knows it, else a new one (saved, mode 0600)."""
    now = utc_now()
    token = auth.bootstrap_admin(db, now)
    if token is None:
        saved = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
        if saved and _principal(db, saved, Role.ADMIN) is not None:
            return saved
        # The database has admins but not this token: this operator has the database itself,
        # so a new admin token is theirs to have.
        operator = auth.Principal(user="admin", role=Role.ADMIN)
        body = TokenCreate(user="admin", role=Role.ADMIN)
        token = auth.create_token(db, operator, body, now).token
        err.print(f"[yellow]no valid admin token in {escape(str(path))}; made a new one[/]")
    _write_secret(path, token)
    return token


def _principal(db: Database, token: str, role: Role) -> auth.Principal | None:
    try:
        principal = auth.authenticate(db, token, utc_now())
    except ServiceError:
        return None
    return principal if principal.role is role else None


def _write_secret(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(secret + "\n")
    path.chmod(0o600)  # an existing file keeps its mode through os.open


def _ensure_project(db: Database, admin: str) -> None:
    principal = auth.authenticate(db, admin, utc_now())
    if any(p.name == DEFAULT_PROJECT for p in projects.list_projects(db, principal)):
        return
    with contextlib.suppress(ConflictError):  # made meanwhile by someone else: what we wanted
        projects.create_project(db, principal, ProjectCreate(name=DEFAULT_PROJECT), utc_now())


def _local_agent(
    db: Database, admin: str, data_dir: Path, url: str, fake_gpus: str | None, settings: Settings
) -> LocalAgent:
    name = socket.gethostname()
    if fake_gpus is None and nvml.available():
        gpus = "its real GPUs (NVML)"
    else:
        simulated = fake_gpus or DEFAULT_FAKE_GPUS
        try:
            groups = parse_fake_gpus(simulated)
        except GpuSourceError as exc:
            raise fail(str(exc)) from None
        why = ": no NVIDIA driver found here" if fake_gpus is None else ""
        fake_gpus = simulated
        listed = ", ".join(f"{g.count}x {g.model}" for g in groups)
        gpus = f"SIMULATED GPUs ({listed}{why}); jobs run for real, on no GPU"
    path = data_dir / AGENT_TOKEN_FILE
    token = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
    principal = _principal(db, token, Role.AGENT) if token else None
    if principal is None or principal.node != name:
        operator = auth.authenticate(db, admin, utc_now())
        body = TokenCreate(user=f"agent-{name}"[:100], role=Role.AGENT, node=name)
        token = auth.create_token(db, operator, body, utc_now()).token
        _write_secret(path, token)
    config = AgentConfig(
        server_url=url,
        token=token,
        name=name,
        fake_gpus=fake_gpus,
        heartbeat_s=settings.heartbeat_s,
    )
    return LocalAgent(config, gpus)


def _serve(
    server: uvicorn.Server,
    db: Database,
    sock: socket.socket,
    local: LocalAgent | None,
    url: str,
    admin: str,
    data_dir: Path,
    settings: Settings,
    provisioner: LocalProvisioner,
) -> None:
    stop = threading.Event()
    previous = {sig: signal.signal(sig, _setter(stop)) for sig in (signal.SIGINT, signal.SIGTERM)}
    serving = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="gpufleet-server", daemon=True
    )
    serving.start()
    failures: list[BaseException] = []
    try:
        agent_stop = threading.Event()
        agent_thread = None
        if _wait_started(server, serving, stop) and local is not None:
            agent_thread = threading.Thread(
                target=_run_local_agent,
                args=(local.config, agent_stop, stop, failures),
                name="gpufleet-agent",
                daemon=True,
            )
            agent_thread.start()
            _wait_registered(db, admin, local.config.name, stop)
        restored = provisioner.restore(db) if not stop.is_set() else []
        if restored:
            err.print(f"simulated machines back: {', '.join(restored)}", highlight=False)
        if not stop.is_set():
            _banner(url, admin, data_dir, settings, local)
        while not stop.wait(0.5):
            if not serving.is_alive():
                break
        for sig in previous:  # a second Ctrl-C exits at once
            signal.signal(
                sig, signal.SIG_DFL if sig == signal.SIGTERM else signal.default_int_handler
            )
        if agent_thread is not None and agent_thread.is_alive():
            err.print(
                "stopping the local agent: its running jobs are stopped and go back to pending"
            )
            agent_stop.set()
            agent_thread.join()
        provisioner.stop()
        err.print("stopping the server")
        server.should_exit = True
        serving.join()
    except KeyboardInterrupt:
        server.force_exit = server.should_exit = True
        raise fail(
            "interrupted again: stopped without waiting for jobs or the server", 130
        ) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    if failures:
        raise fail(f"the local agent stopped: {failures[0]}", 1)


def _setter(event: threading.Event) -> Callable[[int, FrameType | None], None]:
    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        event.set()

    return on_signal


def _wait_started(server: uvicorn.Server, serving: threading.Thread, stop: threading.Event) -> bool:
    """True once the server listens; False if asked to stop first."""
    waited = 0.0
    while not server.started:
        if not serving.is_alive() or waited > STARTUP_TIMEOUT_S:
            raise fail("the server did not start; see the messages above", 1)
        if stop.wait(0.05):
            return False
        waited += 0.05
    return True


def _wait_registered(db: Database, admin: str, name: str, stop: threading.Event) -> None:
    """Until the local agent's node is up (or a timeout: the banner then shows regardless)."""
    since = utc_now()
    principal = auth.authenticate(db, admin, since)
    waited = 0.0
    while waited < REGISTER_TIMEOUT_S and not stop.wait(0.1):
        waited += 0.1
        for node in nodes.list_nodes(db, principal):
            if node.name == name and node.state is NodeState.UP and node.last_heartbeat >= since:
                return
    if not stop.is_set():
        err.print(f"[yellow]the local agent has not registered node {escape(name)} yet[/yellow]")


def _run_local_agent(
    config: AgentConfig,
    agent_stop: threading.Event,
    stop_all: threading.Event,
    failures: list[BaseException],
) -> None:
    try:
        run_agent(config, stop_event=agent_stop)
    except Exception as exc:  # noqa: BLE001 - reported by the main thread, which stops `up`
        failures.append(exc)
        stop_all.set()


def _banner(
    url: str, admin: str, data_dir: Path, settings: Settings, local: LocalAgent | None
) -> None:
    database = _shown(settings.database_url)
    if database.startswith("sqlite"):
        database = f"SQLite {database.split(':///', 1)[-1]}"
    saved = escape(str(data_dir / ADMIN_TOKEN_FILE))
    lines = [
        f"[bold green]gpufleet is up[/] on [bold]{url}/[/] ({escape(database)})",
        f"  dashboard   {url}/   (sign in with the admin token below)",
        f"  API         {url}/api/v1   (interactive docs: {url}/docs)",
        f"  metrics     {url}/metrics",
        f"  admin token saved in {saved} (mode 0600); to use it from another shell:",
        f"    export GPUFLEET_TOKEN={admin}",
    ]
    if url != DEFAULT_SERVER:
        lines.append(f"    export GPUFLEET_SERVER={url}")
    if local is None:
        lines.append("  no local agent (--no-agent): start agents with `gpufleet agent`")
    else:
        lines.append(f"  local agent: node {escape(local.config.name)} with {escape(local.gpus)}")
    cli = _cli_name()
    lines += [
        f"  project {DEFAULT_PROJECT!r} is ready. Try, from another shell:",
        f"    {cli} submit -- python -c \"print('hello')\"",
        f"    {cli} jobs",
        f"    {cli} logs 1",
        "Ctrl-C stops the agent (its running jobs go back to pending) and then the server.",
    ]
    out.print("\n".join(lines), highlight=False, soft_wrap=True)


def _shown(database_url: str) -> str:
    """The URL with its password, if any, masked."""
    return make_url(database_url).render_as_string(hide_password=True)


def _cli_name() -> str:
    """``gpufleet`` when it is on ``PATH``, else the path of the one running (``.venv/bin/...``)."""
    if shutil.which("gpufleet"):
        return "gpufleet"
    here = Path(sys.executable).parent / "gpufleet"
    try:
        return str(here.relative_to(Path.cwd()))
    except ValueError:
        return str(here)
