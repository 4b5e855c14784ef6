"""Integration fixtures: every test runs on SQLite (a file in ``tmp_path``) and on PostgreSQL.

PostgreSQL: a database with a random name is created for the session (and dropped after), so
tests never touch anyone else's data; it is migrated once and emptied before each test.
SQLite: a migrated template file is copied for each test. Migration tests get an empty schema.
The server is ``$GPUFLEET_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``);
if it cannot be reached the PostgreSQL runs are skipped with the reason.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fleet_harness import FakeClock, Fleet
from psycopg import sql
from sqlalchemy import create_engine

from gpufleet.server.db.engine import migrate
from gpufleet.server.db.rows import Base

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server's conninfo URL (skips the test if it cannot be reached)."""
    server = os.environ.get("GPUFLEET_TEST_POSTGRES", DEFAULT_POSTGRES)
    try:
        psycopg.connect(server, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable at {server} (set GPUFLEET_TEST_POSTGRES): {error}")
    return server


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str) -> Iterator[str]:
    """A fresh, randomly named database for this test session (dropped after): its conninfo."""
    name = f"gpufleet_test_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{postgres_server.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def sqlalchemy_url(conninfo: str, schema: str) -> str:
    url = conninfo.replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{url}?options=-csearch_path%3D{schema}"


def new_schema(conninfo: str) -> str:
    """A new, empty schema in the session's database; returns its SQLAlchemy URL."""
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    return sqlalchemy_url(conninfo, schema)


@pytest.fixture(scope="session")
def postgres_migrated(postgres_database: str) -> str:
    """One schema migrated once; each test empties it (migrating per test costs 0.3 s)."""
    url = new_schema(postgres_database)
    migrate(url)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "gpufleet.db"
    migrate(f"sqlite+pysqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database with no schema at all (for migration tests)."""
    if backend == "sqlite":
        return f"sqlite+pysqlite:///{tmp_path / 'empty.db'}"
    return new_schema(request.getfixturevalue("postgres_database"))


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A migrated database with no rows, for this test alone."""
    if backend == "sqlite":
        path = tmp_path / "gpufleet.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+pysqlite:///{path}"
    url: str = request.getfixturevalue("postgres_migrated")
    engine = create_engine(url)
    with engine.begin() as connection:  # DELETE: 10x faster than TRUNCATE on tiny tables
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fleet(database_url: str, clock: FakeClock) -> Iterator[Fleet]:
    """A server with an admin token, a project ``vision`` and no nodes."""
    server = Fleet(database_url, clock)
    try:
        server.project("vision", quota={"H100-SXM": 8})
        yield server
    finally:
        server.close()
