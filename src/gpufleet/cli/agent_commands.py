"""``gpufleet agent``: a node agent for this machine (``gpufleet.agent.run_agent``) until Ctrl-C
or SIGTERM, which stop its jobs and report them stopped (they go back to pending)."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Annotated

import typer
from rich.logging import RichHandler
from rich.markup import escape

from gpufleet.agent import AgentConfig, AuthError, GpuSourceError, run_agent
from gpufleet.agent.fake import parse_fake_faults, parse_fake_gpus
from gpufleet.cli.client import DEFAULT_SERVER
from gpufleet.cli.console import err, fail


def configure_logging() -> None:
    """gpufleet's own log lines (agent, loops) on stderr; the console resolves stderr late, so
    a redirected stderr (tests) is honoured."""
    logger = logging.getLogger("gpufleet")
    if not any(isinstance(h, RichHandler) for h in logger.handlers):
        handler = RichHandler(console=err, show_path=False, markup=False, log_time_format="%X")
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def agent(
    token: Annotated[
        str,
        typer.Option(
            envvar="GPUFLEET_AGENT_TOKEN",
            help="This node's agent token (`gpufleet tokens create --role agent --node NAME`).",
            show_default=False,
        ),
    ],
    server: Annotated[
        str, typer.Option(envvar="GPUFLEET_SERVER", help="The control plane's URL.")
    ] = DEFAULT_SERVER,
    name: Annotated[
        str | None,
        typer.Option(
            help="Node name (the token's node). Default: the host name.", show_default=False
        ),
    ] = None,
    fake_gpus: Annotated[
        str | None,
        typer.Option(
            help="Simulate GPUs, e.g. 4xH100-SXM or 2xA100-80GB,2xH100 (no NVIDIA driver needed). "
            "Default: the real GPUs, through NVML.",
            show_default=False,
        ),
    ] = None,
    fake_faults: Annotated[
        str | None,
        typer.Option(
            help="Give simulated GPUs faults that their acceptance test finds, e.g. "
            "3=slow,5=ecc+hot (slow, ecc, xid, hot, wrong-model, small-memory).",
            show_default=False,
        ),
    ] = None,
    heartbeat_s: Annotated[
        float, typer.Option(min=0.05, help="Seconds between heartbeats until the server says.")
    ] = 5.0,
    work_dir: Annotated[
        Path | None,
        typer.Option(help="Working directory of jobs. Default: the agent's.", show_default=False),
    ] = None,
) -> None:
    """Run a node agent: register this machine's GPUs, heartbeat, run the jobs it is given."""
    configure_logging()
    try:
        if fake_gpus is not None:  # a bad spec fails here, before anything starts
            count = sum(g.count for g in parse_fake_gpus(fake_gpus))
            parse_fake_faults(fake_faults or "", count)
        config = AgentConfig(
            server_url=server,
            token=token,
            name=name or socket.gethostname(),
            fake_gpus=fake_gpus,
            fake_faults=fake_faults,
            heartbeat_s=heartbeat_s,
            work_dir=work_dir,
        )
    except (ValueError, GpuSourceError) as exc:
        raise fail(str(exc)) from None
    gpus = f"simulated GPUs {fake_gpus}" if fake_gpus else "real GPUs (NVML)"
    if fake_faults:
        gpus += f" with faults {fake_faults}"
    err.print(
        f"gpufleet agent: node {escape(config.name)}, {escape(gpus)}, server {escape(server)}; "
        "Ctrl-C stops it (its jobs are stopped and go back to pending)",
        highlight=False,
    )
    try:
        run_agent(config)
    except (AuthError, GpuSourceError) as exc:
        raise fail(str(exc), 1) from None
