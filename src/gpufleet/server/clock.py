"""The one module that reads the wall clock. Everything else is handed ``now`` or a ``Clock``."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""A source of timezone-aware UTC datetimes (``utc_now`` in production, a fake in tests)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def monotonic_s() -> float:
    """Seconds on a monotonic clock, for measuring durations (never for timestamps)."""
    return time.perf_counter()
