"""One way to make a HiGHS solver (``highspy.Highs``) that keeps standard output clean.

highspy 1.16 prints its banner ("Running HiGHS ...") on standard output when the first solver
of a process is made, before any option can turn logging off — which corrupts
``gpufleet plan --json``, ``placement-bench --json`` and anything else that prints data. The
first construction therefore runs with file descriptor 1 pointed at standard error (the banner
stays visible, where logs belong); later ones print nothing. Every solver comes back with
``output_flag`` off. Used by the planner (``planning.milp``) and Gavel's allocation LPs
(``scheduling.policies``), so it sits outside both.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

import highspy

_lock = threading.Lock()
_first = True


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """File descriptor 1 writes to descriptor 2 inside the block (C code included)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def new_highs() -> highspy.Highs:
    """A HiGHS solver with its logging off; the banner never reaches standard output."""
    global _first  # noqa: PLW0603 - the banner is printed once per process
    with _lock:
        if _first:
            with _stdout_to_stderr():
                solver = highspy.Highs()  # type: ignore[no-untyped-call]
            _first = False
        else:
            solver = highspy.Highs()  # type: ignore[no-untyped-call]
    solver.setOptionValue("output_flag", False)  # noqa: FBT003 - HiGHS takes (name, value)
    return solver
