"""Fleet utilisation over time, kept in memory by one server process for the overview chart.

The database keeps only each GPU's latest telemetry, so the overview records a sample each time
it is rendered (at most one per ``min_step_s``) and draws the last ``window_s`` of them. The
history is bounded, thread-safe (pages render in worker threads) and lost on restart.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Sample:
    at: datetime
    utilisation_pct: float
    """Mean utilisation of the GPUs on up nodes that reported one."""


class UtilisationHistory:
    def __init__(
        self, *, window_s: float = 900.0, min_step_s: float = 2.0, max_samples: int = 600
    ) -> None:
        if window_s <= 0 or min_step_s < 0 or max_samples < 2:
            msg = (
                "window_s must be > 0, min_step_s >= 0 and max_samples >= 2, got "
                f"{window_s}, {min_step_s}, {max_samples}"
            )
            raise ValueError(msg)
        self.window_s = window_s
        self.min_step_s = min_step_s
        self._samples: deque[Sample] = deque(maxlen=max_samples)
        self._lock = threading.Lock()

    def record(self, at: datetime, utilisation_pct: float | None) -> None:
        """Keep ``utilisation_pct`` at ``at``; ``None`` (no telemetry), a sample too soon after
        the last one, or one older than the last is dropped."""
        if utilisation_pct is None:
            return
        with self._lock:
            if self._samples:
                since_s = (at - self._samples[-1].at).total_seconds()
                if since_s < self.min_step_s or since_s < 0:
                    return
            self._samples.append(Sample(at, utilisation_pct))

    def recent(self, now: datetime) -> tuple[Sample, ...]:
        """The samples of the last ``window_s`` before ``now``, oldest first."""
        start = now - timedelta(seconds=self.window_s)
        with self._lock:
            return tuple(s for s in self._samples if start <= s.at <= now)
