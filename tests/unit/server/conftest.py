"""Fixtures of the dashboard tests: a migrated SQLite template (once per module) and a fresh
``Board`` on a copy of it per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_board import Board, open_board

from gpufleet.server.db.engine import migrate


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dashboard") / "template.db"
    migrate(f"sqlite+pysqlite:///{path}")
    return path


@pytest.fixture
def board(template_db: Path, tmp_path: Path) -> Iterator[Board]:
    with open_board(template_db, tmp_path) as server:
        yield server
