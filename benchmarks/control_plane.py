"""Benchmark: the control plane's throughput on SQLite and PostgreSQL (issue 6).

* **Submissions per second through the HTTP API.** ``gpufleet up --no-agent`` runs in a
  subprocess (uvicorn on a loopback port, with its scheduler and node-loss loops, as in
  production) on a database already holding the fake nodes; clients ``POST /api/v1/jobs`` one at
  a time, then from ``--clients`` threads at once. The scheduler places the submitted jobs on
  the nodes meanwhile, so its ticks are part of the load.
* **Scheduler tick.** ``--nodes`` fake nodes (``--gpus-per-node`` GPUs each, H100-SXM and
  A100-80GB alternately) registered through the agent service and ``--pending`` pending jobs
  (written as rows: 1-8 GPUs, any model or one of the two, priorities 0-3, four projects); then
  ``scheduler.tick`` is timed: the first tick, which schedules up to capacity, then steady-state
  ticks with the cluster full and ``--pending`` jobs still pending (topped up after the first).
  The policy's compiled kernels are warmed first, as in a server that has ticked before.

SQLite is a file (WAL) in a temporary folder; PostgreSQL a fresh randomly named database on the
``--postgres`` server, dropped afterwards. Prints one markdown table per part.

Run: ``.venv/bin/python benchmarks/control_plane.py --backend both`` (about 2.5 minutes on
2 cores). ``--profile`` prints the hottest functions of the first and of a steady-state tick.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from psycopg import sql
from sqlalchemy import func, insert, select

import gpufleet
from gpufleet.cli.client import ADMIN_TOKEN_FILE
from gpufleet.domain.fleet import Gpu, Node, NodeState
from gpufleet.domain.job import JobState
from gpufleet.scheduling.core import decide, make_policy
from gpufleet.server.clock import utc_now
from gpufleet.server.db.engine import Database, migrate
from gpufleet.server.db.rows import JobRow, ProjectRow
from gpufleet.server.schemas import GpuRegister, NodeRegister, ProjectCreate, Role
from gpufleet.server.services import agent, projects, scheduler
from gpufleet.server.services.auth import Principal

MODELS = ("H100-SXM", "A100-80GB")
PROJECTS = ("vision", "speech", "nlp", "robotics")
GANG_SIZES = (1, 1, 1, 1, 2, 2, 4, 8)
ALLOWED = ((), (), ("H100-SXM",), ("A100-80GB",))
ADMIN = Principal(user="bench", role=Role.ADMIN)
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
SERVER_START_TIMEOUT_S = 60.0
SOURCE = str(Path(gpufleet.__file__).resolve().parents[1])


# ----------------------------------------------------------------------------------- databases
@contextlib.contextmanager
def database(backend: str, postgres: str, folder: Path) -> Iterator[str]:
    """A new, empty database's SQLAlchemy URL (PostgreSQL: created, and dropped after)."""
    if backend == "sqlite":
        yield f"sqlite+pysqlite:///{folder / f'bench-{secrets.token_hex(4)}.db'}"
        return
    name = f"gpufleet_bench_{secrets.token_hex(6)}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        server = postgres.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def register_nodes(db: Database, nodes: int, gpus_per_node: int, now: datetime) -> None:
    """Fake nodes through the agent service, as their agents would register them."""
    for i in range(nodes):
        model = MODELS[i % len(MODELS)]
        gpus = [
            GpuRegister(index=g, model=model, memory_gib=80, uuid=f"GPU-{i}-{g}")
            for g in range(gpus_per_node)
        ]
        body = NodeRegister(name=f"node-{i:05d}", gpus=gpus, simulated=True, cpu_count=64)
        agent.register(db, ADMIN, body, now)


def create_projects(db: Database, now: datetime) -> None:
    for name in PROJECTS:
        projects.create_project(db, ADMIN, ProjectCreate(name=name), now)


def add_pending(db: Database, count: int, rng: np.random.Generator, now: datetime) -> None:
    """``count`` pending jobs as rows (what ``POST /jobs`` stores), submitted before ``now``."""
    with db.transaction() as session:
        ids = dict(session.execute(select(ProjectRow.name, ProjectRow.id)).all())
        first = session.scalar(select(func.count(JobRow.id))) or 0
        rows = [
            {
                "project_id": ids[PROJECTS[int(rng.integers(len(PROJECTS)))]],
                "name": f"bench-{first + i}",
                "command": ["sleep", "3600"],
                "gpus": int(rng.choice(GANG_SIZES)),
                "gpu_models": list(ALLOWED[int(rng.integers(len(ALLOWED)))]),
                "priority": int(rng.integers(4)),
                "state": JobState.PENDING.value,
                "cancel_requested": False,
                "attempts": 0,
                "gpu_indices": [],
                "submitted_at": now - timedelta(milliseconds=count - i),
            }
            for i in range(count)
        ]
        session.execute(insert(JobRow), rows)


def pending_jobs(db: Database) -> int:
    with db.transaction() as session:
        query = select(func.count(JobRow.id)).where(JobRow.state == JobState.PENDING.value)
        return int(session.scalar(query) or 0)


# ------------------------------------------------------------------------------------- ticks
@dataclass(frozen=True, slots=True)
class TickFigures:
    first_s: float
    first_scheduled: int
    first_allocated: int
    steady_s: list[float]
    steady_pending: int
    steady_unplaced: int


def warm_policy(policy: str) -> None:
    """Run the policy once on a one-node fleet, so its compiled kernels are loaded."""
    gpu = Gpu(index=0, model=MODELS[0], memory_gib=80)
    node = Node(id=1, name="warm", state=NodeState.UP, gpus=(gpu,), allocated=frozenset())
    job = scheduler.ActiveJob(id=1, project="p", gpus=1, gpu_models=(), priority=0, submitted_s=0.0)
    snapshot = scheduler.Snapshot(
        nodes=(node,), jobs=(job,), projects=("p",), quota={}, weight={"p": 1.0}
    )
    context = scheduler.build_context(snapshot, 1.0, 1.0)
    assert context is not None  # noqa: S101 - one job, one GPU type
    decide(make_policy(policy), context)


def timed(call: Callable[[], scheduler.TickReport], profile: str | None) -> tuple[float, Any]:
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    report = profiler.runcall(call) if profiler is not None else call()
    elapsed = time.perf_counter() - started
    if profiler is not None:
        print(f"\n### cProfile: {profile}\n```")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        print("```")
    return elapsed, report


def bench_ticks(url: str, args: argparse.Namespace) -> TickFigures:
    migrate(url)
    db = Database(url)
    try:
        now = utc_now()
        rng = np.random.default_rng(args.seed)
        create_projects(db, now)
        register_nodes(db, args.nodes, args.gpus_per_node, now)
        add_pending(db, args.pending, rng, now)
        warm_policy(args.policy)

        def tick_at(at: datetime) -> Callable[[], scheduler.TickReport]:
            return lambda: scheduler.tick(db, policy=args.policy, now=at, round_s=1.0)

        now += timedelta(seconds=1)
        profile = "first tick" if args.profile else None
        first_s, first = timed(tick_at(now), profile)
        add_pending(db, args.pending - pending_jobs(db), rng, now)
        steady_s: list[float] = []
        report = first
        for repeat in range(args.repeats):
            now += timedelta(seconds=1)
            profile = "steady-state tick" if args.profile and repeat == 0 else None
            elapsed, report = timed(tick_at(now), profile)
            steady_s.append(elapsed)
        return TickFigures(
            first_s=first_s,
            first_scheduled=len(first.scheduled),
            first_allocated=first.allocated_gpus,
            steady_s=steady_s,
            steady_pending=report.pending,
            steady_unplaced=len(report.unplaced),
        )
    finally:
        db.dispose()


# ------------------------------------------------------------------------------- submissions
@dataclass(frozen=True, slots=True)
class SubmitFigures:
    sequential_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    concurrent_per_s: float
    clients: int
    failed: int


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def served(url: str, folder: Path) -> Iterator[tuple[str, str]]:
    """``gpufleet up --no-agent`` on ``url`` in a subprocess: its base URL and admin token."""
    port = free_port()
    env = {
        **os.environ,
        # The fake nodes never heartbeat: keep them up for the whole run.
        "GPUFLEET_HEARTBEAT_S": "3600",
        # The server runs the gpufleet this script imported (a worktree's, under PYTHONPATH=src).
        "PYTHONPATH": os.pathsep.join(p for p in (SOURCE, os.environ.get("PYTHONPATH")) if p),
    }
    command = [
        sys.executable, "-c", "from gpufleet.cli.main import app; app()",
        "up", "--no-agent", "--port", str(port), "--data-dir", str(folder),
        "--database-url", url,
    ]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "server.log"
    with log.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            command, env=env, stdout=subprocess.DEVNULL, stderr=stderr, text=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                errors = log.read_text(encoding="utf-8")
                msg = f"gpufleet up exited with {process.returncode}: {errors}"
                raise RuntimeError(msg)
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                msg = f"gpufleet up did not answer within {SERVER_START_TIMEOUT_S:.0f} s"
                raise RuntimeError(msg)
            time.sleep(0.2)
        yield base, (folder / ADMIN_TOKEN_FILE).read_text(encoding="utf-8").strip()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def submit_many(
    base: str, token: str, count: int, failures: list[str], latencies: list[float] | None = None
) -> None:
    """``count`` submissions, one after another; what is not a 201 is added to ``failures``."""
    body = {"project": "vision", "command": ["sleep", "3600"], "gpus": 1}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for _ in range(count):
            started = time.perf_counter()
            answer = client.post("/api/v1/jobs", json=body)
            if latencies is not None:
                latencies.append(time.perf_counter() - started)
            if answer.status_code != 201:
                failures.append(f"{answer.status_code} {answer.text[:200]}")


def wait_scheduled(base: str, token: str) -> None:
    """Until no job is pending (the scheduler has placed them all)."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    params = {"state": "pending", "limit": 1}
    while httpx.get(f"{base}/api/v1/jobs", params=params, headers=headers, timeout=10).json():
        if time.monotonic() > deadline:
            msg = f"jobs still pending after {SERVER_START_TIMEOUT_S:.0f} s"
            raise RuntimeError(msg)
        time.sleep(0.2)


def bench_submissions(url: str, args: argparse.Namespace, folder: Path) -> SubmitFigures:
    migrate(url)
    db = Database(url)
    try:
        now = utc_now()
        create_projects(db, now)
        register_nodes(db, args.nodes, args.gpus_per_node, now)
    finally:
        db.dispose()
    failures: list[str] = []
    with served(url, folder) as (base, token):
        submit_many(base, token, 20, failures)  # warm: connections, caches
        wait_scheduled(base, token)  # and the scheduler's policy, loaded on its first decision
        latencies: list[float] = []
        started = time.perf_counter()
        submit_many(base, token, args.submissions, failures, latencies)
        sequential_s = time.perf_counter() - started
        per_client = args.submissions // args.clients
        threads = [
            threading.Thread(target=submit_many, args=(base, token, per_client, failures))
            for _ in range(args.clients)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        concurrent_s = time.perf_counter() - started
    if failures:
        print(f"{len(failures)} submissions failed, e.g. {failures[0]}; server log:")
        print((folder / "server.log").read_text(encoding="utf-8")[-3000:])
    latencies_ms = np.array(latencies) * 1000
    return SubmitFigures(
        sequential_per_s=args.submissions / sequential_s,
        latency_p50_ms=float(np.percentile(latencies_ms, 50)),
        latency_p99_ms=float(np.percentile(latencies_ms, 99)),
        concurrent_per_s=per_client * args.clients / concurrent_s,
        clients=args.clients,
        failed=len(failures),
    )


# -------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--part", choices=["submit", "tick", "both"], default="both")
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--gpus-per-node", type=int, default=8)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5, help="steady-state ticks timed")
    parser.add_argument("--submissions", type=int, default=1000, help="per client mode")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--policy", default="priority")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="server URL (conninfo)")
    parser.add_argument("--profile", action="store_true", help="cProfile the timed ticks")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    ticks: dict[str, TickFigures] = {}
    submits: dict[str, SubmitFigures] = {}
    with tempfile.TemporaryDirectory(prefix="gpufleet-bench-") as tmp:
        for backend in backends:
            if args.part in {"tick", "both"}:
                with database(backend, args.postgres, Path(tmp)) as url:
                    ticks[backend] = bench_ticks(url, args)
            if args.part in {"submit", "both"}:
                folder = Path(tmp) / f"up-{backend}"
                with database(backend, args.postgres, Path(tmp)) as url:
                    submits[backend] = bench_submissions(url, args, folder)
    fleet = f"{args.nodes:,} nodes x {args.gpus_per_node} GPUs"
    if submits:
        print(f"\n**Job submissions** (`POST /api/v1/jobs` to `gpufleet up --no-agent`, {fleet})\n")
        print(f"| backend | 1 client | p50 / p99 latency | {args.clients} clients | failed |")
        print("|---|---|---|---|---|")
        for backend, s in submits.items():
            print(
                f"| {backend} | {s.sequential_per_s:,.0f} /s | "
                f"{s.latency_p50_ms:.1f} / {s.latency_p99_ms:.1f} ms | "
                f"{s.concurrent_per_s:,.0f} /s | {s.failed} |"
            )
    if ticks:
        print(f"\n**Scheduler tick** (`{args.policy}`, {fleet}, {args.pending:,} pending jobs)\n")
        print("| backend | first tick | scheduled (GPUs) | steady tick, median (max) | pending |")
        print("|---|---|---|---|---|")
        for backend, t in ticks.items():
            print(
                f"| {backend} | {t.first_s:.2f} s | {t.first_scheduled:,} "
                f"({t.first_allocated:,}) | {statistics.median(t.steady_s):.2f} s "
                f"({max(t.steady_s):.2f} s) | {t.steady_pending:,} |"
            )
    print(f"\n{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
