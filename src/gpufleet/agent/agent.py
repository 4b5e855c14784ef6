"""The node agent's loop: register, heartbeat, run what the server assigns, report back.

``NodeAgent.step(now)`` is one iteration and does, in this order:

1. **local work** (never fails on the network): escalate overdue stops, collect job exits and
   new log lines into an outbox;
2. **register** the node if it is not (yet, or any more) registered;
3. **logs**, then **finished**: every job's buffered lines go out (in order, in chunks) before
   its ``finished`` — so the server sees ``started`` → ``logs``… → ``finished`` per job;
4. **acceptance reports**: each finished acceptance test goes out as an ``AcceptanceReport``
   and the verdict is logged; it waits while the server is unreachable, and is dropped (and
   logged) when the server refuses it;
5. **heartbeat** when due (telemetry + the job ids still running), then apply the answer:
   ``stop`` ids get SIGTERM (SIGKILL after ``grace_s``); each ``start`` entry is reported
   ``started`` first and spawned only if the server accepts (a 404/409 means the job is not
   this node's to run, so nothing is spawned). A job already running here is not started twice.
   An ``acceptance`` request starts that test in the background (``AcceptanceWorker``: once
   per test id, never two at once), so ``step`` never waits for a burn-in.

Surviving the server: while it is unreachable, jobs keep running and their lines and exits wait
in the outbox (each job's lines bounded by ``max_buffered_lines``; the oldest are dropped and
counted). A heartbeat answered 404 or 409 (node unknown after a restart, or marked lost)
re-registers the node and heartbeats again at once. A 401/403 is fatal (``AuthError``): no retry
can fix a rejected token. A 404/409 on a job's ``logs`` or ``finished`` means the server no
longer tracks that job: the agent drops what it held for it and says so in its log.

``run_agent`` drives ``step`` on a clock until ``stop_event`` is set, then stops every job and
reports the exits once. Time comes only from the injected ``clock``; waiting only through the
injected ``sleep`` (and, in the acceptance thread, through its own stop event). The GPU source
is read under a lock, as the heartbeat and a running acceptance test both sample it.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

import httpx

from gpufleet.agent.acceptance.run import AcceptanceTiming, launcher_for, run_acceptance
from gpufleet.agent.acceptance.worker import AcceptanceWorker, log_verdict
from gpufleet.agent.burn_in import BurnInLauncher
from gpufleet.agent.client import (
    AgentClient,
    ApiError,
    AuthError,
    ConflictError,
    NotFoundError,
    ServerUnavailableError,
    Sleep,
)
from gpufleet.agent.config import AgentConfig, host_info, job_base_env
from gpufleet.agent.gpu_source import (
    GpuSource,
    GpuSourceError,
    GpuTelemetry,
    SourceOptions,
    open_source,
)
from gpufleet.agent.messages import (
    AcceptanceRequest,
    Assignments,
    HostInfo,
    JobStart,
    MessageError,
    acceptance_body,
    heartbeat_body,
    register_body,
)
from gpufleet.agent.runner import JobExit, JobId, JobRunner, JobSpec
from gpufleet.domain.acceptance import GpuCheck

log = logging.getLogger(__name__)

Clock = Callable[[], float]
_GONE = (NotFoundError, ConflictError)


class NodeAgent:
    """One node's agent (see the module docstring). Drive it with ``step(now)``."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        client: AgentClient,
        source: GpuSource,
        runner: JobRunner,
        host: HostInfo,
        launcher: BurnInLauncher | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.config = config
        self.client = client
        self.source = source
        self.runner = runner
        self.host = host
        self.launcher = launcher or launcher_for(source)
        self.clock = clock
        """The acceptance thread's clock (``step`` takes ``now`` instead)."""
        self._source_lock = threading.Lock()
        self.gpus = source.discover()
        self.acceptance = AcceptanceWorker(self._run_acceptance)
        self._reports: list[tuple[int, dict[str, object]]] = []
        self.registered = False
        self.heartbeat_s = config.heartbeat_s
        self.next_heartbeat = float("-inf")
        self.node: dict[str, object] = {}
        """The server's ``NodePublic`` from the last registration."""
        self._logs: dict[JobId, list[str]] = {}
        self._dropped: dict[JobId, int] = {}
        self._exits: list[JobExit] = []

    # ------------------------------------------------------------------ the loop
    def step(self, now: float) -> None:
        """One iteration (see the module docstring); network trouble is logged, not raised.

        Raises ``AuthError`` when the server rejects the token.
        """
        self._collect(now)
        try:
            if not self.registered:
                self.register()
            self._send_logs()
            self._send_finished()
            self._send_acceptance()
            if now >= self.next_heartbeat:
                self.heartbeat(now)
        except AuthError:
            raise
        except ServerUnavailableError as exc:
            log.warning("server unreachable, jobs keep running: %s", exc)
        except (ApiError, MessageError) as exc:
            log.error("server refused or garbled a request: %s", exc)

    def wait_s(self, now: float) -> float:
        """How long ``run_agent`` may wait before the next ``step``."""
        if not self.registered:
            return self.config.poll_s
        return max(0.0, min(self.config.poll_s, self.next_heartbeat - now))

    def register(self) -> None:
        """``POST /agent/register`` with the GPUs, the simulated flag, CPUs and memory."""
        body = register_body(
            self.config.name, self.gpus, simulated=self.source.simulated, host=self.host
        )
        self.node = self.client.register(body)
        self.registered = True
        log.info(
            "registered node %s: %d GPUs%s",
            self.config.name,
            len(self.gpus),
            " (simulated)" if self.source.simulated else "",
        )

    def heartbeat(self, now: float) -> None:
        """Send telemetry and running jobs; start and stop what the answer lists."""
        self.next_heartbeat = now + self.heartbeat_s
        body = heartbeat_body(
            self.config.name,
            self._telemetry(),
            self.runner.running(),
            error_counters=self.config.error_counters,
        )
        try:
            assignments = self.client.heartbeat(body)
        except _GONE as exc:
            log.warning("server does not know this node (%s); registering again", exc.status)
            self.registered = False
            self.register()
            assignments = self.client.heartbeat(body)
        self._apply(assignments, now)

    def shutdown(self) -> None:
        """Cancel a running acceptance test, stop every job (SIGTERM, SIGKILL after the grace
        period), report once, close."""
        self.acceptance.stop()
        self._exits.extend(self.runner.shutdown())
        self._collect(float("inf"))
        with contextlib.suppress(ServerUnavailableError, ApiError, MessageError):
            if self.registered:
                self._send_logs()
                self._send_finished()
        if self._exits:
            log.warning("could not report %d job exits before shutting down", len(self._exits))
        self.source.close()
        self.client.close()

    # ------------------------------------------------------------------ internals
    def _collect(self, now: float) -> None:
        self._exits.extend(self.runner.poll(now))
        for job_id, lines in self.runner.drain_logs().items():
            held = self._logs.setdefault(job_id, [])
            held.extend(lines)
            excess = len(held) - self.config.max_buffered_lines
            if excess > 0:
                del held[:excess]
                self._dropped[job_id] = self._dropped.get(job_id, 0) + excess

    def _send_logs(self) -> None:
        for job_id in list(self._logs):
            held = self._logs[job_id]
            dropped = self._dropped.pop(job_id, 0)
            if dropped:
                note = f"[gpufleet-agent: {dropped} lines dropped while the server was unreachable]"
                held.insert(0, note)
            while held:
                chunk = held[: self.config.max_lines_per_call]
                try:
                    self.client.logs(job_id, chunk)
                except _GONE as exc:
                    log.warning("job %s: server refused its logs (%s); dropping", job_id, exc)
                    held.clear()
                    break
                del held[: len(chunk)]
            del self._logs[job_id]

    def _send_finished(self) -> None:
        while self._exits:
            done = self._exits[0]
            try:
                self.client.finished(done.job_id, done.exit_code, stopped=done.stopped)
            except _GONE as exc:
                log.warning("job %s: server refused its exit (%s); dropping", done.job_id, exc)
            else:
                log.info("job %s: finished, exit code %d", done.job_id, done.exit_code)
            self._exits.pop(0)

    def _send_acceptance(self) -> None:
        for test, checks in self.acceptance.finished():
            self._reports.append((test, acceptance_body(self.config.name, checks)))
        while self._reports:
            test, body = self._reports[0]
            try:
                answer = self.client.acceptance(test, body)
            except AuthError:
                raise
            except ApiError as exc:  # 404/409 (not this node's test), 422: retrying cannot help
                log.warning(
                    "acceptance test %s: server refused the report (%s); dropping", test, exc
                )
            else:
                log_verdict(test, answer)
            self._reports.pop(0)

    def _run_acceptance(
        self,
        request: AcceptanceRequest,
        stopping: Callable[[], bool],
        wait: Callable[[float], object],
    ) -> list[GpuCheck]:
        return run_acceptance(
            self.gpus,
            self._sample,
            self.launcher,
            [g.index for g in request.gpus],
            request.burn_in_s,
            clock=self.clock,
            wait=wait,
            timing=AcceptanceTiming(sample_s=self.config.acceptance_sample_s),
            stopping=stopping,
        )

    def _sample(self) -> list[GpuTelemetry]:
        with self._source_lock:
            return self.source.telemetry()

    def _telemetry(self) -> list[GpuTelemetry]:
        try:
            return self._sample()
        except Exception:  # a broken GPU must not stop the node from heartbeating
            log.exception("GPU telemetry failed; heartbeat without it")
            return []

    def _apply(self, assignments: Assignments, now: float) -> None:
        if assignments.heartbeat_s is not None and assignments.heartbeat_s != self.heartbeat_s:
            self.heartbeat_s = assignments.heartbeat_s
            self.next_heartbeat = now + self.heartbeat_s
        stopping = set(assignments.stop)
        for job_id in assignments.stop:
            if self.runner.stop(job_id, now):
                log.info("job %s: stop requested by the server", job_id)
        held = set(self.runner.running()) | {e.job_id for e in self._exits}
        for start in assignments.start:
            if start.job in held or start.job in stopping:
                continue
            self._start(start)
        if assignments.acceptance is not None:
            self.acceptance.offer(assignments.acceptance)

    def _start(self, start: JobStart) -> None:
        known = {g.index for g in self.gpus}
        missing = sorted(set(start.gpu_indices) - known)
        if missing:
            log.error("job %s: this node has no GPU %s; not starting it", start.job, missing)
            return
        try:
            self.client.started(start.job)
        except _GONE as exc:
            log.warning("job %s: server refused `started` (%s); not starting it", start.job, exc)
            return
        self.runner.start(JobSpec(start.job, start.command, start.gpu_indices, start.env))


def open_gpu_source(config: AgentConfig, options: SourceOptions) -> GpuSource:
    """The configured GPU source; a missing NVML says how to run with fake GPUs instead."""
    try:
        return open_source(config.source_name, config.fake_gpus or "", options)
    except GpuSourceError as exc:
        if config.gpu_source is None and config.fake_gpus is None:
            msg = f"{exc}. Without NVIDIA GPUs, run with --fake-gpus 4xH100-SXM (simulated)"
            raise GpuSourceError(msg) from None
        raise


def build_agent(
    config: AgentConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Sleep = time.sleep,
    source: GpuSource | None = None,
    host: HostInfo | None = None,
) -> NodeAgent:
    """Wire the real parts (runner, GPU source, HTTP client) for ``config``."""
    runner = JobRunner(grace_s=config.grace_s, cwd=config.work_dir)
    if source is None:
        options = SourceOptions(
            config.name, config.seed, runner.busy_gpu_indices, config.fake_faults or ""
        )
        source = open_gpu_source(config, options)
    runner.base_env = job_base_env(config.token, simulated=source.simulated)
    client = AgentClient(
        config.server_url,
        config.token,
        transport=transport,
        timeout_s=config.timeout_s,
        retries=config.retries,
        backoff_s=config.backoff_s,
        backoff_max_s=config.backoff_max_s,
        sleep=sleep,
    )
    return NodeAgent(config, client=client, source=source, runner=runner, host=host or host_info())


def run_agent(
    config: AgentConfig,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep | None = None,
    stop_event: threading.Event | None = None,
    transport: httpx.BaseTransport | None = None,
) -> None:
    """Run the agent until ``stop_event`` is set (SIGINT/SIGTERM set it when none is given).

    ``sleep`` waits between iterations and between retries; by default it waits on
    ``stop_event`` so shutdown is immediate. Raises ``AuthError`` when the token is rejected
    and ``GpuSourceError`` when the GPUs cannot be read; jobs are stopped either way.
    """
    own_event = stop_event is None
    event = threading.Event() if stop_event is None else stop_event
    wait: Sleep = event.wait if sleep is None else sleep
    restore = _install_signal_handlers(event) if own_event else {}
    try:
        agent = build_agent(config, transport=transport, sleep=wait)
        try:
            while not event.is_set():
                agent.step(clock())
                if not event.is_set():
                    wait(agent.wait_s(clock()))
        finally:
            agent.shutdown()
    finally:
        for signum, handler in restore.items():
            signal.signal(signum, handler)


_Handler = Callable[[int, FrameType | None], object] | int | None


def _install_signal_handlers(event: threading.Event) -> dict[signal.Signals, _Handler]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping the agent", signum)
        event.set()

    previous: dict[signal.Signals, _Handler] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, on_signal)
    return previous
