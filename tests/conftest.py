"""Shared fixtures. Test objects are built by the factories in ``tests/factories.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gpufleet.catalog.gpus import GpuTable, gpu_table
from gpufleet.catalog.problems import LoadReport

from factories import REPO


def _shared_data() -> Path | None:
    configured = os.environ.get("GPUFLEET_DATA")
    path = Path(configured) if configured else REPO.parent / "shared" / "data"
    complete = all((path / part).is_dir() for part in ("catalog", "traces"))
    return path if complete else None


@pytest.fixture(scope="session")
def table() -> GpuTable:
    return gpu_table()


@pytest.fixture
def report() -> LoadReport:
    return LoadReport()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = _shared_data()
    if path is None:
        pytest.skip(
            "shared data not found (needs catalog/ and traces/): "
            "set GPUFLEET_DATA or place it at ../shared/data"
        )
    return path
