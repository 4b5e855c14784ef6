"""Run jobs as real subprocesses, capture their output, stop them, report how they ended.

Guarantees:

* Each job is one ``subprocess.Popen`` (no shell) in its **own process group**, with stdin from
  ``/dev/null`` and stdout and stderr merged into one pipe. Its environment is the runner's
  base environment, then the job's ``env``, then (winning over both) ``CUDA_VISIBLE_DEVICES``
  (the job's GPU indices, comma-separated; empty for none), ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` (so
  CUDA numbers GPUs as NVML does) and ``GPUFLEET_JOB_ID``.
* One reader thread per job turns the pipe into lines (newline stripped, undecodable bytes
  replaced, a line longer than ``max_line_chars`` split into pieces of that size) on a shared
  queue; nothing the agent loop calls blocks on a job's output. ``drain_logs`` hands back each
  job's lines in the order written.
* A job is reported exited (``poll``) only once its leader has exited **and** its output has
  ended, so every log line is drained before its ``JobExit``. When the leader exits, whatever
  else is left in its process group is killed (SIGKILL) *before* the leader is reaped, so the
  group id cannot have been reused; every child is reaped — no zombies.
* ``stop`` sends SIGTERM to the group; ``poll(now)`` sends SIGKILL once ``grace_s`` has passed
  since. ``JobExit.stopped`` says the runner signalled the job before it exited.
* Exit codes follow the shell: the process's own code, ``128 + N`` when signal ``N`` ended it,
  ``127`` when the command does not exist, ``126`` when it cannot be executed (the reason is
  then the job's one log line).

Time comes in as ``now`` (seconds on any monotonic scale); only ``wait`` and ``shutdown``, which
exist to block, wait in real time.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

JobId = int | str
EXIT_NOT_FOUND = 127
EXIT_NOT_EXECUTABLE = 126
_EOF = None


PR_SET_PDEATHSIG = 1


def _die_with_agent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the job is killed if the agent dies (``PR_SET_PDEATHSIG``), so a job the server
    requeues after losing this node can never run twice."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job to start: what to run, on which GPU indices, with which extra environment."""

    job_id: JobId
    command: tuple[str, ...]
    gpu_indices: tuple[int, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobExit:
    """How a job ended."""

    job_id: JobId
    exit_code: int
    signal: int | None
    """The signal that ended it, if one did."""
    stopped: bool
    """The runner sent it SIGTERM (``stop``) before it exited."""
    killed: bool
    """The grace period ran out and the runner sent SIGKILL."""


@dataclass(slots=True)
class _Job:
    spec: JobSpec
    proc: subprocess.Popen[str] | None
    reader: threading.Thread | None
    eof: bool = False
    returncode: int | None = None
    stop_at: float | None = None
    killed: bool = False


class JobRunner:
    """The jobs of one node (see the module docstring). Use it from one thread."""

    def __init__(
        self,
        *,
        grace_s: float = 10.0,
        base_env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        max_line_chars: int = 16_384,
    ) -> None:
        if grace_s < 0:
            msg = f"grace_s must be >= 0, got {grace_s}"
            raise ValueError(msg)
        self.grace_s = grace_s
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.cwd = cwd
        self.max_line_chars = max_line_chars
        self._jobs: dict[JobId, _Job] = {}
        self._lines: dict[JobId, list[str]] = {}
        self._queue: queue.Queue[tuple[JobId, str | None]] = queue.Queue()

    # ------------------------------------------------------------------ queries
    def running(self) -> list[JobId]:
        """Jobs started and not yet reported by ``poll`` (stopping ones included)."""
        return list(self._jobs)

    def busy_gpu_indices(self) -> frozenset[int]:
        """GPU indices held by the jobs in ``running()``."""
        return frozenset(i for job in self._jobs.values() for i in job.spec.gpu_indices)

    def pid(self, job_id: JobId) -> int | None:
        """The process id of a running job's leader (also its process-group id)."""
        job = self._jobs.get(job_id)
        return None if job is None or job.proc is None else job.proc.pid

    # ------------------------------------------------------------------ commands
    def start(self, spec: JobSpec) -> None:
        """Start ``spec``; a command that cannot be started becomes an exit (126/127) and a line."""
        if spec.job_id in self._jobs:
            msg = f"job {spec.job_id} is already running"
            raise ValueError(msg)
        env = {
            **self.base_env,
            **spec.env,
            "CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in spec.gpu_indices),
            "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
            "GPUFLEET_JOB_ID": str(spec.job_id),
        }
        try:
            if not spec.command:
                raise FileNotFoundError("empty command")
            proc = subprocess.Popen(  # noqa: S603 - runs the job's argv as given, no shell
                list(spec.command),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.cwd,
                process_group=0,
                preexec_fn=_die_with_agent if sys.platform == "linux" else None,  # noqa: PLW1509
                text=True,
                encoding="utf-8",
                errors="replace",
            )
        except OSError as exc:
            code = EXIT_NOT_FOUND if isinstance(exc, FileNotFoundError) else EXIT_NOT_EXECUTABLE
            self._jobs[spec.job_id] = _Job(spec, None, None, eof=True, returncode=code)
            line = f"gpufleet-agent: cannot start {list(spec.command)!r}: {exc}"
            self._lines.setdefault(spec.job_id, []).append(line)
            log.warning("job %s: %s", spec.job_id, line)
            return
        assert proc.stdout is not None  # noqa: S101 - stdout=PIPE guarantees it
        reader = threading.Thread(
            target=self._read,
            args=(spec.job_id, proc.stdout),
            name=f"gpufleet-job-{spec.job_id}-reader",
            daemon=True,
        )
        self._jobs[spec.job_id] = _Job(spec, proc, reader)
        reader.start()
        log.info("job %s: started pid %d on GPUs %s", spec.job_id, proc.pid, spec.gpu_indices)

    def stop(self, job_id: JobId, now: float) -> bool:
        """SIGTERM the job's process group; SIGKILL follows ``grace_s`` later (in ``poll``).

        False when the job is unknown or has already exited; asking twice changes nothing.
        """
        job = self._jobs.get(job_id)
        if job is None or job.proc is None or job.stop_at is not None:
            return False
        if self._leader_exited(job):
            return False
        job.stop_at = now
        _signal_group(job.proc.pid, signal.SIGTERM)
        log.info("job %s: SIGTERM sent, SIGKILL in %.1f s", job_id, self.grace_s)
        return True

    def poll(self, now: float) -> list[JobExit]:
        """Escalate overdue stops to SIGKILL, reap exited jobs and report those fully done."""
        self._pump()
        done: list[JobExit] = []
        for job_id, job in list(self._jobs.items()):
            self._escalate(job, now)
            self._reap(job)
            if job.returncode is not None and job.eof:
                del self._jobs[job_id]
                done.append(_exit_of(job))
        return done

    def drain_logs(self, timeout: float = 0.0) -> dict[JobId, list[str]]:
        """New lines per job since the last call; waits up to ``timeout`` s for the first one."""
        if timeout > 0 and not any(self._lines.values()):
            with contextlib.suppress(queue.Empty):
                self._accept(*self._queue.get(timeout=timeout))
        self._pump()
        lines = {job_id: got for job_id, got in self._lines.items() if got}
        self._lines = {}
        return lines

    def wait(self, job_id: JobId, timeout: float) -> bool:
        """Block until the job's leader exited and its output ended (True), or ``timeout`` s."""
        deadline = time.monotonic() + timeout
        job = self._jobs.get(job_id)
        if job is None:
            return True
        if job.proc is not None and job.returncode is None:
            if not _wait_exit(job.proc.pid, timeout):
                return False
            self._reap(job)
        if job.reader is not None:
            job.reader.join(max(0.0, deadline - time.monotonic()))
            if job.reader.is_alive():
                return False
        self._pump()
        return job.eof

    def shutdown(self, timeout_s: float | None = None) -> list[JobExit]:
        """Stop every job (SIGTERM, then SIGKILL after the grace period) and report them all."""
        grace = self.grace_s if timeout_s is None else timeout_s
        started = time.monotonic()
        for job_id in list(self._jobs):
            self.stop(job_id, started)
        for job_id in list(self._jobs):
            left = max(0.0, started + grace - time.monotonic())
            if not self.wait(job_id, left):
                job = self._jobs[job_id]
                if job.proc is not None and not self._leader_exited(job):
                    job.killed = True
                    _signal_group(job.proc.pid, signal.SIGKILL)
                self.wait(job_id, 5.0)
        return self.poll(float("inf"))

    # ------------------------------------------------------------------ internals
    def _read(self, job_id: JobId, stream: IO[str]) -> None:
        try:
            # readline(limit) bounds memory: a line longer than the limit arrives in pieces.
            for line in iter(lambda: stream.readline(self.max_line_chars), ""):
                self._queue.put((job_id, line.rstrip("\r\n")))
        except (OSError, ValueError) as exc:  # the pipe closed under us
            log.debug("job %s: output reader stopped: %s", job_id, exc)
        finally:
            with contextlib.suppress(OSError):
                stream.close()
            self._queue.put((job_id, _EOF))

    def _pump(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            self._accept(*item)

    def _accept(self, job_id: JobId, line: str | None) -> None:
        if line is _EOF:
            job = self._jobs.get(job_id)
            if job is not None:
                job.eof = True
        else:
            self._lines.setdefault(job_id, []).append(line)

    def _escalate(self, job: _Job, now: float) -> None:
        if job.proc is None or job.stop_at is None or job.killed or job.returncode is not None:
            return
        if now >= job.stop_at + self.grace_s and not self._leader_exited(job):
            job.killed = True
            _signal_group(job.proc.pid, signal.SIGKILL)
            log.warning(
                "job %s: still running %.1f s after SIGTERM; SIGKILL", job.spec.job_id, self.grace_s
            )

    def _leader_exited(self, job: _Job) -> bool:
        """True once the leader has exited; it stays unreaped (a zombie) until ``_reap``."""
        if job.returncode is not None or job.proc is None:
            return True
        try:
            info = os.waitid(os.P_PID, job.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    def _reap(self, job: _Job) -> None:
        if job.proc is None or job.returncode is not None or not self._leader_exited(job):
            return
        # Kill what the job left behind while the zombie leader still pins its group id.
        _signal_group(job.proc.pid, signal.SIGKILL)
        job.returncode = job.proc.wait()


def _exit_of(job: _Job) -> JobExit:
    code = job.returncode if job.returncode is not None else EXIT_NOT_FOUND
    signum = -code if code < 0 else None
    return JobExit(
        job_id=job.spec.job_id,
        exit_code=128 + signum if signum is not None else code,
        signal=signum,
        stopped=job.stop_at is not None,
        killed=job.killed,
    )


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _wait_exit(pid: int, timeout: float) -> bool:
    """Block until ``pid`` (our child) has exited, without reaping it; False after ``timeout``."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except OSError:  # pragma: no cover - kernels before 5.3 have no pidfd
        return _wait_exit_polling(pid, timeout)
    try:
        readable, _, _ = select.select([fd], [], [], max(0.0, timeout))
        return bool(readable)
    finally:
        os.close(fd)


def _wait_exit_polling(pid: int, timeout: float) -> bool:  # pragma: no cover - old kernels
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
