"""The background loops: the scheduler tick and the node-loss check, both every ``tick_s``, and
the procurement pass (submit due orders, follow deliveries, raise budget alerts) every
``procurement_s``.

``Loops.tick(now)``, ``Loops.check_lost(now)`` and ``Loops.procure(now)`` are plain functions,
so tests drive them with
explicit times and never sleep; ``start``/``stop`` run them on the event loop (each pass in a
worker thread: the services block on the database) and are what the app's lifespan calls. A
pass that fails is logged and the loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from gpufleet.server.clock import Clock, monotonic_s
from gpufleet.server.db.engine import Database
from gpufleet.server.metrics import Metrics
from gpufleet.server.provisioning import Provisioner
from gpufleet.server.services import accounting, nodes, procurement, scheduler
from gpufleet.server.settings import Settings

log = logging.getLogger(__name__)


class Loops:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        metrics: Metrics,
        provisioner: Provisioner | None = None,
    ) -> None:
        self.db = db
        self.provisioner = provisioner
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self._stop: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.started_at = clock()
        """Nodes get a whole loss window after the server starts: the time it was down is not
        their silence (else a restart would requeue every running job and run it twice)."""

    def tick(self, now: datetime | None = None) -> scheduler.TickReport:
        """One scheduler pass at ``now`` (the clock's time if not given)."""
        started = monotonic_s()
        report = scheduler.tick(
            self.db,
            policy=self.settings.policy,
            now=now or self.clock(),
            round_s=self.settings.tick_s,
            default_time_limit_s=self.settings.default_time_limit_s,
        )
        self.metrics.observe_tick(monotonic_s() - started)
        return report

    def check_lost(self, now: datetime | None = None) -> list[str]:
        """Mark nodes lost whose heartbeat is too old; requeue their jobs. Returns their names.
        Nothing is lost until the server has been up for a whole loss window."""
        now = now or self.clock()
        if (now - self.started_at).total_seconds() < self.settings.lost_after_s:
            return []
        return nodes.check_lost(self.db, now, self.settings.lost_after_s)

    def procure(self, now: datetime | None = None) -> procurement.FollowReport:
        """One procurement pass at ``now``: due orders submitted, suppliers asked for news,
        delivered machines made nodes (and provisioned), budget alerts raised."""
        now = now or self.clock()
        report = procurement.follow(self.db, now, self.provisioner)
        accounting.check_budgets(self.db, now)
        return report

    @property
    def running(self) -> bool:
        return any(not task.done() for task in self._tasks)

    def start(self) -> None:
        if self.running:
            return
        self._stop = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._every(self.settings.tick_s, self.tick, "scheduler tick")),
            asyncio.create_task(
                self._every(self.settings.tick_s, self.check_lost, "node-loss check")
            ),
            asyncio.create_task(
                self._every(self.settings.procurement_s, self.procure, "procurement pass")
            ),
        ]

    async def stop(self) -> None:
        """Ask the loops to stop and wait for the pass in progress to end."""
        if self._stop is not None:
            self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _every(self, period_s: float, work: Callable[[], object], what: str) -> None:
        assert self._stop is not None  # noqa: S101 - set by start()
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(work)
            except Exception:
                log.exception("%s failed; retrying in %.1f s", what, period_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=period_s)
