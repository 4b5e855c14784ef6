"""The event kernel: a heap of ``(time, priority, sequence, event)`` on a virtual clock.

Written by us rather than taken from SimPy: a SimPy process waiting one timeout costs 14.7 us
per event here against 2.9 us for this loop (``benchmarks/event_kernel.py``, 200,000 events),
and trace-scale runs fire hundreds of thousands of events. The shape follows SimPy's core (an
environment that owns the clock, events ordered by time, then priority, then insertion order),
without processes.

Deterministic: ties in time break by ``priority`` (lower first) and then by the order events
were scheduled, never by the events themselves; the loop reads no wall clock.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[["EventLoop", Any], None]


@dataclass(slots=True)
class EventLoop:
    now: float = 0.0
    """The virtual clock, in seconds; advanced only by ``run``."""
    _heap: list[tuple[float, int, int, Any]] = field(default_factory=list)
    _sequence: int = 0
    _handlers: dict[type, Handler] = field(default_factory=dict)
    processed: int = 0
    """Events handled so far."""

    def on(self, kind: type, handler: Handler) -> None:
        """Call ``handler(loop, event)`` for every event of type ``kind``."""
        self._handlers[kind] = handler

    def schedule(self, time: float, event: Any, priority: int = 0) -> None:
        """Fire ``event`` at ``time`` (never before ``now``)."""
        if time < self.now:
            msg = f"cannot schedule {type(event).__name__} at {time} before now ({self.now})"
            raise ValueError(msg)
        heapq.heappush(self._heap, (time, priority, self._sequence, event))
        self._sequence += 1

    def peek(self) -> float | None:
        """The time of the next event, or ``None`` when there is none."""
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)

    def run(self, *, until: float | None = None, stop: Callable[[], bool] | None = None) -> None:
        """Handle events in order until none are left, the next is after ``until``, or
        ``stop()`` turns true (checked after each event)."""
        heap, handlers, pop = self._heap, self._handlers, heapq.heappop
        while heap:
            if until is not None and heap[0][0] > until:
                self.now = until
                return
            time, _, _, event = pop(heap)
            self.now = time
            handler = handlers.get(type(event))
            if handler is None:
                msg = f"no handler for {type(event).__name__}"
                raise TypeError(msg)
            handler(self, event)
            self.processed += 1
            if stop is not None and stop():
                return
