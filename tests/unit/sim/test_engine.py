"""The event kernel: order by time, then priority, then scheduling order; no time travel."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpufleet.sim.engine import EventLoop


@dataclass(frozen=True)
class Ping:
    label: str


def test_events_fire_by_time_then_priority_then_order() -> None:
    loop = EventLoop()
    seen: list[tuple[float, str]] = []
    loop.on(Ping, lambda lp, ev: seen.append((lp.now, ev.label)))
    loop.schedule(5.0, Ping("late"))
    loop.schedule(1.0, Ping("b"), priority=1)
    loop.schedule(1.0, Ping("a"), priority=0)
    loop.schedule(1.0, Ping("c"), priority=1)
    loop.run()
    assert seen == [(1.0, "a"), (1.0, "b"), (1.0, "c"), (5.0, "late")]
    assert loop.processed == 4


def test_handlers_may_schedule_more_and_run_stops_at_until_or_stop() -> None:
    loop = EventLoop()
    seen: list[float] = []

    def tick(lp: EventLoop, _: Ping) -> None:
        seen.append(lp.now)
        lp.schedule(lp.now + 10.0, Ping("tick"))

    loop.on(Ping, tick)
    loop.schedule(0.0, Ping("tick"))
    loop.run(until=35.0)
    assert seen == [0.0, 10.0, 20.0, 30.0]
    assert loop.now == 35.0
    loop.run(stop=lambda: len(seen) >= 6)
    assert seen[-2:] == [40.0, 50.0]


def test_the_past_and_unknown_events_are_errors() -> None:
    loop = EventLoop(now=10.0)
    with pytest.raises(ValueError, match="before now"):
        loop.schedule(5.0, Ping("x"))
    loop.schedule(11.0, "not an event")
    with pytest.raises(TypeError, match="no handler for str"):
        loop.run()


@given(st.lists(st.tuples(st.floats(0, 1e6), st.integers(0, 3)), max_size=60))
def test_any_schedule_is_handled_in_sorted_stable_order(items: list[tuple[float, int]]) -> None:
    loop = EventLoop()
    seen: list[int] = []
    loop.on(int, lambda lp, ev: seen.append(ev))
    for index, (time, priority) in enumerate(items):
        loop.schedule(time, index, priority)
    loop.run()
    expected = sorted(range(len(items)), key=lambda i: (items[i][0], items[i][1], i))
    assert seen == expected
