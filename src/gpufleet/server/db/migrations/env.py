"""Alembic environment, run programmatically by ``gpufleet.server.db.engine.upgrade``, which
hands over an open connection in ``config.attributes["connection"]``."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from gpufleet.server.db.rows import Base, UtcDateTime


def render_item(kind: str, item: Any, _context: AutogenContext) -> str | Literal[False]:
    """Autogenerate writes plain SQLAlchemy types: migrations must not import the rows."""
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations() -> None:
    if context.is_offline_mode():
        msg = "offline (--sql) migrations are not supported; use gpufleet.server.db.migrate"
        raise RuntimeError(msg)
    connection = context.config.attributes.get("connection")
    if connection is None:
        msg = "run migrations through gpufleet.server.db.migrate(url), which passes a connection"
        raise RuntimeError(msg)
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs by table copy
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
