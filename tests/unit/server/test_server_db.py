"""SQLite engine settings and timestamps that stay timezone-aware on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from gpufleet.server.db.engine import Database, make_engine, migrate
from gpufleet.server.db.rows import ProjectRow


def test_a_sqlite_file_gets_its_folder_wal_mode_foreign_keys_and_a_busy_timeout(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state" / "deep" / "gpufleet.db"
    engine = make_engine(f"sqlite+pysqlite:///{path}")
    try:
        with engine.connect() as connection:
            pragma = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
        assert path.parent.is_dir()
        assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10_000}
    finally:
        engine.dispose()


def test_times_come_back_as_aware_utc_and_naive_ones_are_refused(tmp_path: Path) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'db'}"
    migrate(url)
    db = Database(url)
    at = datetime(2026, 1, 5, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    with db.transaction() as session:
        session.add(ProjectRow(name="p", quota={}, budget_usd=None, weight=1.0, created_at=at))
    with db.transaction() as session:
        row = session.scalars(select(ProjectRow)).one()
        assert row.created_at == at
        assert row.created_at.tzinfo is UTC
    with pytest.raises(StatementError, match="naive datetime"), db.transaction() as session:
        session.add(ProjectRow(name="q", quota={}, weight=1.0, created_at=datetime(2026, 1, 5)))  # noqa: DTZ001
    db.dispose()
