"""The agent's acceptance tests in the background: one at a time, once per test id.

``AcceptanceWorker`` guarantees:

* ``offer(request)`` never blocks: it starts the test in a daemon thread and returns True, or
  returns False when that test id was already taken (running or done) or another test is
  running (the server repeats its request until a report arrives, so nothing is lost by
  waiting). The agent keeps no test state across restarts: a restarted agent runs a repeated
  request again.
* ``finished()`` hands each completed test's checks over exactly once, in completion order.
  A test that was cancelled (``stop``) or that failed with an error hands over nothing (the
  error is logged); the server keeps asking, and an operator sees why in the agent's log.
* ``stop()`` cancels a running test (its burn-ins are killed) and waits for the thread.

The test itself is the injected ``run(request, stopping, wait)``: ``stopping()`` says whether to
give up, ``wait(s)`` waits up to ``s`` seconds and returns early when stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from gpufleet.agent.acceptance.run import AcceptanceCancelled
from gpufleet.agent.messages import AcceptanceRequest, MessageError, parse_verdict
from gpufleet.domain.acceptance import GpuCheck

log = logging.getLogger(__name__)

RunTest = Callable[
    [AcceptanceRequest, Callable[[], bool], Callable[[float], object]], Sequence[GpuCheck]
]


class AcceptanceWorker:
    """Runs acceptance tests in a background thread (see the module docstring)."""

    def __init__(self, run: RunTest) -> None:
        self._run = run
        self._lock = threading.Lock()
        self._taken: set[int] = set()
        self._done: list[tuple[int, list[GpuCheck]]] = []
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def busy(self) -> bool:
        """A test is running."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def offer(self, request: AcceptanceRequest) -> bool:
        """Start ``request`` unless its id was taken or a test is running."""
        with self._lock:
            if request.test in self._taken or self.busy or self._stopping.is_set():
                return False
            self._taken.add(request.test)
            self._thread = threading.Thread(
                target=self._work,
                args=(request,),
                name=f"acceptance-{request.test}",
                daemon=True,
            )
            self._thread.start()
        return True

    def finished(self) -> list[tuple[int, list[GpuCheck]]]:
        """``(test, checks)`` of the tests completed since the last call."""
        with self._lock:
            done, self._done = self._done, []
        return done

    def join(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the running test, if any; True when none runs."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return not self.busy

    def stop(self, timeout_s: float = 30.0) -> None:
        """Cancel the running test and wait for it (its burn-ins are killed)."""
        self._stopping.set()
        if not self.join(timeout_s):
            log.warning("the acceptance test did not stop within %.0f s", timeout_s)

    def _work(self, request: AcceptanceRequest) -> None:
        indices = [g.index for g in request.gpus]
        log.info(
            "acceptance test %d: burning in GPUs %s for %.0f s",
            request.test,
            indices,
            request.burn_in_s,
        )
        try:
            checks = list(self._run(request, self._stopping.is_set, self._stopping.wait))
        except AcceptanceCancelled:
            log.info("acceptance test %d: cancelled", request.test)
            return
        except Exception:
            log.exception("acceptance test %d failed; nothing to report", request.test)
            return
        with self._lock:
            self._done.append((request.test, checks))
        log.info("acceptance test %d: done", request.test)


def log_verdict(test: int, answer: object) -> None:
    """Log the server's ``AcceptanceVerdict``: a line for the test, one per failed GPU."""
    try:
        verdict = parse_verdict(answer)
    except MessageError as exc:
        log.error("acceptance test %s: report accepted, but the verdict is garbled: %s", test, exc)
        return
    failed = [g for g in verdict.gpus if not g.passed]
    log.info(
        "acceptance test %d: %d of %d GPUs passed; node is %s",
        verdict.test,
        len(verdict.gpus) - len(failed),
        len(verdict.gpus),
        verdict.node_state,
    )
    for gpu in failed:
        log.warning(
            "acceptance test %d: GPU %d failed: %s", verdict.test, gpu.index, "; ".join(gpu.reasons)
        )
