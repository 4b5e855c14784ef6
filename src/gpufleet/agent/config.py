"""The agent's configuration and what it reads about the machine it runs on.

``AgentConfig`` is what ``gpufleet agent`` fills from its options; it checks its own values
(``ValueError`` naming the field). ``host_info`` and ``job_base_env`` are the only places the
agent looks at the host: CPU count, memory, and the environment jobs inherit — minus any
variable holding the agent's token, so a job cannot act as its node.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gpufleet.agent.messages import HostInfo

_GIB = float(1 << 30)


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Everything one node agent needs to know."""

    server_url: str
    """The control plane, e.g. ``http://127.0.0.1:8000`` (``/api/v1`` is added if missing)."""
    token: str
    """This node's agent token (``Authorization: Bearer``)."""
    name: str = field(default_factory=socket.gethostname)
    """The node's name; registration is idempotent per name."""
    fake_gpus: str | None = None
    """``NxMODEL[,NxMODEL...]`` to simulate GPUs (``4xH100-SXM``); None for the real ones."""
    fake_faults: str | None = None
    """Faults of the simulated GPUs, ``INDEX=FAULT[+FAULT][,...]`` (``3=slow,5=ecc``), so a
    simulated supplier can deliver bad GPUs; needs ``fake_gpus``."""
    gpu_source: str | None = None
    """A registered GPU source by name; None picks ``fake`` with ``fake_gpus``, else ``nvml``."""
    heartbeat_s: float = 5.0
    """Seconds between heartbeats until the server's ``Assignments.heartbeat_s`` says otherwise."""
    poll_s: float = 1.0
    """Seconds between loop iterations: how soon log lines and exits reach the server."""
    grace_s: float = 10.0
    """Seconds between SIGTERM and SIGKILL when a job is stopped."""
    seed: int = 0
    """Seed of simulated telemetry."""
    work_dir: Path | None = None
    """Working directory of jobs (the agent's own when None)."""
    acceptance_sample_s: float = 1.0
    """Seconds between temperature and power samples during an acceptance test."""
    error_counters: bool = False
    """Also send ECC/XID counters in heartbeats (fields beyond the v1 contract)."""
    timeout_s: float = 10.0
    retries: int = 3
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0
    max_lines_per_call: int = 1000
    max_buffered_lines: int = 100_000
    """Per job, while the server is unreachable; older lines are dropped (and counted) beyond."""

    def __post_init__(self) -> None:
        if not self.server_url.startswith(("http://", "https://")):
            msg = f"server_url must start with http:// or https://, got {self.server_url!r}"
            raise ValueError(msg)
        if not self.token:
            msg = "token must not be empty"
            raise ValueError(msg)
        if not self.name.strip():
            msg = "name must not be empty"
            raise ValueError(msg)
        if self.fake_faults and self.fake_gpus is None:
            msg = "fake_faults needs fake_gpus: only simulated GPUs can be given faults"
            raise ValueError(msg)
        positive = {
            "heartbeat_s": self.heartbeat_s,
            "poll_s": self.poll_s,
            "acceptance_sample_s": self.acceptance_sample_s,
            "timeout_s": self.timeout_s,
            "max_lines_per_call": self.max_lines_per_call,
            "max_buffered_lines": self.max_buffered_lines,
        }
        not_negative = {
            "grace_s": self.grace_s,
            "retries": self.retries,
            "backoff_s": self.backoff_s,
            "backoff_max_s": self.backoff_max_s,
        }
        for key, value in positive.items():
            if value <= 0:
                msg = f"{key} must be > 0, got {value}"
                raise ValueError(msg)
        for key, value in not_negative.items():
            if value < 0:
                msg = f"{key} must be >= 0, got {value}"
                raise ValueError(msg)

    @property
    def source_name(self) -> str:
        """The GPU source this configuration asks for."""
        if self.gpu_source is not None:
            return self.gpu_source
        return "fake" if self.fake_gpus is not None else "nvml"


def host_info() -> HostInfo:
    """CPUs this process may use and the machine's physical memory."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / _GIB
    except (ValueError, OSError, AttributeError):  # pragma: no cover - no sysconf
        memory = 0.0
    return HostInfo(cpu_count=cpus, memory_gib=round(memory, 2))


def job_base_env(
    token: str, environ: Mapping[str, str] | None = None, *, simulated: bool = False
) -> dict[str, str]:
    """The environment jobs inherit: ``environ`` without any variable whose value contains the
    token; ``GPUFLEET_SIMULATED_GPUS=1`` tells a job its GPUs are fake."""
    source = os.environ if environ is None else environ
    env = {k: v for k, v in source.items() if token not in v}
    if simulated:
        env["GPUFLEET_SIMULATED_GPUS"] = "1"
    return env
