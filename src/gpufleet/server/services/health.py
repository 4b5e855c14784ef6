"""Liveness: the database answers."""

from __future__ import annotations

from sqlalchemy import text

from gpufleet.server.db.engine import Database
from gpufleet.server.schemas import Health


def check(db: Database) -> Health:
    with db.transaction() as session:
        session.execute(text("SELECT 1"))
    return Health(status="ok", database=db.backend)
