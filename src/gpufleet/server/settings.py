"""Server settings: one frozen value, read from the environment at the edge (``from_env``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite+pysqlite:///./.gpufleet/gpufleet.db"
"""A SQLite file beside the working directory; its folder is created when the engine is made."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    """SQLAlchemy URL: ``sqlite+pysqlite:///PATH`` or ``postgresql+psycopg://USER@HOST/DB``."""
    heartbeat_s: float = 5.0
    """How often agents heartbeat (told to them in every heartbeat response)."""
    lost_after_heartbeats: float = 2.5
    """A node is lost after this many heartbeat periods without one. With the loss check run
    every tick, a node whose agent stops is lost within 3 heartbeat periods of its last one."""
    tick_s: float = 1.0
    """Scheduler tick period (also the scheduling round the policy sees)."""
    policy: str = "priority"
    """Scheduling policy name (``scheduling.core`` registry). v1 never preempts a running job: a
    ``Preempt`` the policy asks for is ignored; jobs stop only when cancelled or their node is
    lost."""

    default_time_limit_s: float = 86400.0
    """The run time the scheduler assumes for a job that states no time limit (for backfill:
    a job is started ahead of the blocked head of the queue only if, by these estimates, it
    does not delay it). Not enforced: only a job's own limit stops it."""
    acceptance_burn_in_s: float = 30.0
    """How long a delivered GPU's acceptance burn-in runs (per GPU)."""
    procurement_s: float = 10.0
    """How often the procurement loop submits due orders and asks suppliers for news."""

    def __post_init__(self) -> None:
        problems = []
        if not self.database_url:
            problems.append("database_url is required")
        if self.heartbeat_s <= 0:
            problems.append(f"heartbeat_s must be positive, got {self.heartbeat_s}")
        if self.lost_after_heartbeats < 1:
            problems.append(
                f"lost_after_heartbeats must be at least 1, got {self.lost_after_heartbeats}"
            )
        if self.tick_s <= 0:
            problems.append(f"tick_s must be positive, got {self.tick_s}")
        if self.default_time_limit_s <= 0:
            problems.append(
                f"default_time_limit_s must be positive, got {self.default_time_limit_s}"
            )
        if self.acceptance_burn_in_s <= 0:
            problems.append(
                f"acceptance_burn_in_s must be positive, got {self.acceptance_burn_in_s}"
            )
        if self.procurement_s <= 0:
            problems.append(f"procurement_s must be positive, got {self.procurement_s}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def lost_after_s(self) -> float:
        return self.heartbeat_s * self.lost_after_heartbeats

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Settings from ``GPUFLEET_*`` variables; an unset variable keeps its default."""
        defaults = cls()
        try:
            return cls(
                database_url=env.get("GPUFLEET_DATABASE_URL") or defaults.database_url,
                heartbeat_s=float(env.get("GPUFLEET_HEARTBEAT_S", defaults.heartbeat_s)),
                lost_after_heartbeats=float(
                    env.get("GPUFLEET_LOST_AFTER_HEARTBEATS", defaults.lost_after_heartbeats)
                ),
                tick_s=float(env.get("GPUFLEET_TICK_S", defaults.tick_s)),
                policy=env.get("GPUFLEET_POLICY") or defaults.policy,
                default_time_limit_s=float(
                    env.get("GPUFLEET_DEFAULT_TIME_LIMIT_S", defaults.default_time_limit_s)
                ),
                acceptance_burn_in_s=float(
                    env.get("GPUFLEET_ACCEPTANCE_BURN_IN_S", defaults.acceptance_burn_in_s)
                ),
                procurement_s=float(env.get("GPUFLEET_PROCUREMENT_S", defaults.procurement_s)),
            )
        except ValueError as error:
            msg = f"bad GPUFLEET_* setting: {error}"
            raise ValueError(msg) from error
