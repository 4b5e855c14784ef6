"""Benchmark: cost per event of the event kernel (``sim/engine.py``), and of SimPy when it is
installed (it is not a dependency: ``pip install simpy`` to compare).

Each run schedules N timeout-like events at random times (one handler that does nothing) and
runs them all; SimPy's equivalent is N processes that each wait one timeout.

Run: ``.venv/bin/python benchmarks/event_kernel.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from gpufleet.sim.engine import EventLoop

N = 200_000


@dataclass(frozen=True, slots=True)
class Tick:
    pass


def ours(times: list[float]) -> float:
    loop = EventLoop()
    loop.on(Tick, lambda _lp, _ev: None)
    started = time.perf_counter()
    for at in times:
        loop.schedule(at, Tick())
    loop.run()
    return (time.perf_counter() - started) / len(times)


def simpy_cost(times: list[float]) -> float | None:
    try:
        import simpy  # noqa: PLC0415 - optional, for comparison only
    except ImportError:
        return None
    env = simpy.Environment()

    def wait(delay: float):  # type: ignore[no-untyped-def]
        yield env.timeout(delay)

    started = time.perf_counter()
    for at in times:
        env.process(wait(at))
    env.run()
    return (time.perf_counter() - started) / len(times)


def main() -> None:
    times = np.random.default_rng(0).uniform(0, 1e6, N).tolist()
    best = min(ours(times) for _ in range(3))
    print(f"gpufleet EventLoop: {best * 1e6:.2f} us/event ({N:,} events)")
    other = simpy_cost(times)
    if other is None:
        print("SimPy: not installed (pip install simpy to compare)")
    else:
        print(f"SimPy (process + timeout per event): {other * 1e6:.2f} us/event")


if __name__ == "__main__":
    main()
