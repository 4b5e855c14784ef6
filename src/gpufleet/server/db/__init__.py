"""Persistence: rows (``rows.py``), engines and sessions (``engine.py``), Alembic migrations."""

from gpufleet.server.db.engine import Database, make_engine, migrate, upgrade

__all__ = ["Database", "make_engine", "migrate", "upgrade"]
