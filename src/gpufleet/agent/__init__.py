"""The node agent: GPU discovery and telemetry (NVML or fake), a job runner, and the loop that
talks to the control plane's ``/agent/*`` endpoints (``docs/api.md``).

Entry point for the CLI::

    from gpufleet.agent import AgentConfig, run_agent

    run_agent(AgentConfig(server_url="http://127.0.0.1:8000", token=..., fake_gpus="4xH100-SXM"))

Modules: ``config`` (``AgentConfig``), ``agent`` (``NodeAgent.step``, ``run_agent``), ``client``
(HTTP), ``messages`` (wire format), ``runner`` (subprocesses), ``gpu_source`` (the ``GpuSource``
port and its registry), ``nvml`` and ``fake`` (the two sources).
"""

from __future__ import annotations

from gpufleet.agent.agent import NodeAgent, build_agent, run_agent
from gpufleet.agent.client import AuthError, ServerUnavailableError
from gpufleet.agent.config import AgentConfig
from gpufleet.agent.gpu_source import GpuInfo, GpuSource, GpuSourceError, GpuTelemetry

__all__ = [
    "AgentConfig",
    "AuthError",
    "GpuInfo",
    "GpuSource",
    "GpuSourceError",
    "GpuTelemetry",
    "NodeAgent",
    "ServerUnavailableError",
    "build_agent",
    "run_agent",
]
