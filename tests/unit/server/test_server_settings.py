"""Server settings: defaults, the environment, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet.server.app import create_app
from gpufleet.server.settings import DEFAULT_DATABASE_URL, Settings


def test_defaults() -> None:
    settings = Settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert (settings.heartbeat_s, settings.lost_after_heartbeats, settings.tick_s) == (5, 2.5, 1)
    assert settings.lost_after_s == 12.5  # + at most a 1-s tick: lost within 3 heartbeats
    assert settings.policy == "priority"


def test_from_env_reads_gpufleet_variables_and_keeps_defaults_for_the_rest() -> None:
    settings = Settings.from_env(
        {"GPUFLEET_DATABASE_URL": "postgresql+psycopg://u@h/db", "GPUFLEET_TICK_S": "0.5"}
    )
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.tick_s == 0.5
    assert settings.heartbeat_s == 5
    assert Settings.from_env({}) == Settings()


def test_bad_values_are_refused_with_their_name() -> None:
    with pytest.raises(ValueError, match=r"bad GPUFLEET_\* setting"):
        Settings.from_env({"GPUFLEET_HEARTBEAT_S": "soon"})
    with pytest.raises(ValueError, match=r"heartbeat_s must be positive.*tick_s must be positive"):
        Settings(heartbeat_s=0, tick_s=-1)


def test_an_unknown_policy_stops_the_app_from_being_built(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+pysqlite:///{tmp_path / 'db'}", policy="lottery")
    with pytest.raises(KeyError, match=r"unknown policy 'lottery'; known: .*priority"):
        create_app(settings)
    assert not (tmp_path / "db").exists()  # refused before touching the database
