"""End-to-end fixtures; the harness itself is ``e2e_harness``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_harness import AgentThread, ServerProcess
from typer.testing import CliRunner


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    for name in [n for n in os.environ if n.startswith("GPUFLEET_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    """Every server a test starts goes here, so none outlives it."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.close()


@pytest.fixture
def agents() -> Iterator[list[AgentThread]]:
    """Every agent a test starts goes here, so none outlives it (even when the test fails)."""
    started: list[AgentThread] = []
    yield started
    for agent in started:
        agent.halt()
