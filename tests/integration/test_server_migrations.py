"""The schema comes only from the Alembic migrations, and they match the rows."""

from __future__ import annotations

import anyio
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from gpufleet.server.app import create_app
from gpufleet.server.db.engine import make_engine, migrate
from gpufleet.server.db.rows import Base
from gpufleet.server.settings import Settings


def test_migrations_build_exactly_the_schema_of_the_rows(empty_database_url: str) -> None:
    migrate(empty_database_url)
    migrate(empty_database_url)  # at head already: nothing to do
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert context.get_current_revision() == "0002"
            assert compare_metadata(context, Base.metadata) == []
            tables = set(inspect(connection).get_table_names())
        assert tables == {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"}
    finally:
        engine.dispose()


def test_the_app_migrates_on_start_and_runs_its_loops_for_its_lifetime(
    empty_database_url: str,
) -> None:
    settings = Settings(database_url=empty_database_url, tick_s=0.05, heartbeat_s=0.05)
    app = create_app(settings)
    loops = app.state.loops

    async def lifetime() -> None:
        async with app.router.lifespan_context(app):
            assert loops.running
        assert not loops.running

    anyio.run(lifetime)
    assert loops.tick().scheduled == ()  # still callable directly; the database is migrated
    app.state.db.dispose()
