"""The job runner with real subprocesses: exit codes, ordered output, environment, stop with
SIGTERM then SIGKILL, and nothing left behind (no zombies, no stray group members)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpufleet.agent.runner import JobExit, JobId, JobRunner, JobSpec

PY = sys.executable
WAIT_S = 10.0


@pytest.fixture
def runner() -> Iterator[JobRunner]:
    runner = JobRunner(grace_s=0.5, base_env={"PATH": os.environ.get("PATH", "")})
    yield runner
    runner.shutdown(timeout_s=1.0)


def python(job_id: JobId, code: str, gpus: tuple[int, ...] = (), **env: str) -> JobSpec:
    return JobSpec(job_id, (PY, "-c", code), gpus, env)


def finish(runner: JobRunner, job_id: JobId, now: float = 0.0) -> JobExit:
    assert runner.wait(job_id, WAIT_S), f"job {job_id} did not end"
    exits = {e.job_id: e for e in runner.poll(now)}
    return exits[job_id]


def lines_until(runner: JobRunner, job_id: JobId, text: str) -> list[str]:
    """Lines of ``job_id`` until one equals ``text`` (a bounded wait on the output queue)."""
    seen: list[str] = []
    deadline = time.monotonic() + WAIT_S
    while text not in seen:
        assert time.monotonic() < deadline, f"no {text!r} from job {job_id}; saw {seen}"
        seen += runner.drain_logs(timeout=0.5).get(job_id, [])
    return seen


def assert_reaped(pid: int) -> None:
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_exit_codes_are_reported(runner: JobRunner) -> None:
    runner.start(python("ok", "pass"))
    runner.start(python("bad", "import sys; sys.exit(3)"))
    assert runner.wait("ok", WAIT_S)
    assert runner.wait("bad", WAIT_S)
    exits = sorted(runner.poll(0.0), key=lambda e: str(e.job_id))
    assert exits == [
        JobExit("bad", 3, None, stopped=False, killed=False),
        JobExit("ok", 0, None, stopped=False, killed=False),
    ]
    assert runner.running() == []


def test_output_is_captured_line_by_line_in_order_from_stdout_and_stderr(
    runner: JobRunner,
) -> None:
    code = (
        "import sys\n"
        "for i in range(500):\n"
        "    stream = sys.stderr if i % 2 else sys.stdout\n"
        "    print(f'line {i}', file=stream, flush=True)\n"
        "print('caf\\u00e9 \\u2713')"
    )
    runner.start(python(7, code))
    finish(runner, 7)
    lines = runner.drain_logs()[7]
    assert lines == [*(f"line {i}" for i in range(500)), "café ✓"]
    assert runner.drain_logs() == {}


def test_the_child_sees_its_gpus_and_job_id(runner: JobRunner) -> None:
    code = (
        "import os\n"
        "for key in ('CUDA_VISIBLE_DEVICES', 'CUDA_DEVICE_ORDER', 'GPUFLEET_JOB_ID', 'EXTRA'):\n"
        "    print(key, os.environ.get(key))"
    )
    runner.start(python(42, code, (1, 3), EXTRA="x", CUDA_VISIBLE_DEVICES="9"))
    assert runner.busy_gpu_indices() == {1, 3}
    finish(runner, 42)
    assert runner.drain_logs()[42] == [
        "CUDA_VISIBLE_DEVICES 1,3",
        "CUDA_DEVICE_ORDER PCI_BUS_ID",
        "GPUFLEET_JOB_ID 42",
        "EXTRA x",
    ]
    assert runner.busy_gpu_indices() == frozenset()


def test_a_job_without_gpus_sees_none(runner: JobRunner) -> None:
    runner.start(python(1, "import os; print(repr(os.environ['CUDA_VISIBLE_DEVICES']))"))
    finish(runner, 1)
    assert runner.drain_logs()[1] == ["''"]


def test_each_job_runs_in_its_own_process_group(runner: JobRunner) -> None:
    runner.start(python(1, "import os; print(os.getpgid(0) == os.getpid())"))
    finish(runner, 1)
    assert runner.drain_logs()[1] == ["True"]


def test_stop_sends_sigterm_to_the_group(runner: JobRunner) -> None:
    code = (
        "import os, signal, sys, time\n"
        "def bye(*_):\n"
        "    os.write(1, b'got SIGTERM\\n')  # print() here may re-enter a flush of 'ready'\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)"
    )
    runner.start(python("s", code))
    lines_until(runner, "s", "ready")
    assert runner.stop("s", now=100.0)
    assert not runner.stop("s", now=100.1)  # asking twice changes nothing
    done = finish(runner, "s", now=100.2)
    assert (done, runner.drain_logs()["s"]) == (
        JobExit("s", 0, None, stopped=True, killed=False),
        ["got SIGTERM"],
    )


def test_a_job_ignoring_sigterm_gets_sigkill_after_the_grace_period(runner: JobRunner) -> None:
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)"
    )
    runner.start(python("stubborn", code))
    pid = runner.pid("stubborn")
    assert pid is not None
    lines_until(runner, "stubborn", "ready")
    runner.stop("stubborn", now=10.0)
    assert runner.poll(now=10.4) == []  # within the 0.5 s grace: SIGTERM only, still alive
    assert not runner.wait("stubborn", 0.2)
    assert runner.poll(now=10.5) == []  # grace over: SIGKILL sent now
    done = finish(runner, "stubborn", now=10.6)
    assert done == JobExit("stubborn", 128 + signal.SIGKILL, signal.SIGKILL, True, killed=True)
    assert_reaped(pid)


def test_no_zombie_and_no_stray_group_member_after_exit(runner: JobRunner) -> None:
    # The job leaves a grandchild holding its stdout; the runner kills the group when the
    # leader exits, so the output ends and the job is reported.
    code = (
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print('parent done', flush=True)"
    )
    runner.start(python("p", code))
    pid = runner.pid("p")
    assert pid is not None
    done = finish(runner, "p")
    assert done.exit_code == 0
    assert runner.drain_logs()["p"] == ["parent done"]
    assert_reaped(pid)
    for member in group_members(pid):  # the killed grandchild, awaiting its new parent
        assert ended_within(member, WAIT_S), f"process {member} of the job's group lives on"


def group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pgrp = int(stat.read_text().rsplit(")", 1)[1].split()[2])
        except OSError:  # the process ended while we looked
            continue
        if pgrp == pgid:
            members.append(int(stat.parent.name))
    return members


def ended_within(pid: int, timeout: float) -> bool:
    """A bounded wait for any process (not only our child) to end, through a pidfd."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def test_a_missing_command_is_exit_127_with_the_reason_as_a_log_line(runner: JobRunner) -> None:
    runner.start(JobSpec("m", ("/nonexistent/gpufleet-test-binary",)))
    runner.start(JobSpec("empty", ()))
    exits = {e.job_id: e.exit_code for e in runner.poll(0.0)}
    assert exits == {"m": 127, "empty": 127}
    logs = runner.drain_logs()
    assert "cannot start" in logs["m"][0]
    assert "empty command" in logs["empty"][0]


def test_a_job_id_cannot_run_twice(runner: JobRunner) -> None:
    runner.start(python(1, "import time; time.sleep(60)"))
    with pytest.raises(ValueError, match="already running"):
        runner.start(python(1, "pass"))


def test_shutdown_stops_everything_and_reports_it(runner: JobRunner) -> None:
    runner.start(python(1, "import time; time.sleep(60)"))
    ignore = "import signal, time; signal.signal(15, signal.SIG_IGN); print('ready', flush=True)"
    runner.start(python(2, ignore + "; time.sleep(60)"))
    lines_until(runner, 2, "ready")
    pids = [runner.pid(1), runner.pid(2)]
    exits = {e.job_id: e for e in runner.shutdown(timeout_s=0.3)}
    assert exits[1].stopped
    assert exits[1].exit_code == 128 + signal.SIGTERM
    assert exits[2].killed
    assert runner.running() == []
    for pid in pids:
        assert pid is not None
        assert_reaped(pid)


def test_a_very_long_line_arrives_in_pieces() -> None:
    runner = JobRunner(grace_s=0.5, max_line_chars=1000)
    try:
        runner.start(python(1, "print('x' * 2500); print('end')"))
        finish(runner, 1)
        assert [len(line) for line in runner.drain_logs()[1]] == [1000, 1000, 500, 3]
    finally:
        runner.shutdown(timeout_s=1.0)


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux-only")
def test_a_job_dies_with_a_killed_agent(tmp_path: Path) -> None:
    # An "agent" process starts a long job, writes its pid and is SIGKILLed: the job must not
    # live on (the server would requeue it and it would run twice).
    script = tmp_path / "agent.py"
    script.write_text(
        "import os, sys, time\n"
        "from gpufleet.agent.runner import JobRunner, JobSpec\n"
        "runner = JobRunner()\n"
        "sleeper = (sys.executable, '-c', 'import time; time.sleep(60)')\n"
        "runner.start(JobSpec(job_id=1, command=sleeper))\n"
        "time.sleep(0.5)\n"
        "print(runner._jobs[1].proc.pid, flush=True)\n"
        "time.sleep(60)\n",
        encoding="utf-8",
    )
    with subprocess.Popen(  # noqa: S603 - our own test script
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True
    ) as agent:
        assert agent.stdout is not None
        line = agent.stdout.readline().strip()
        agent.kill()
    pid = int(line)
    assert pid > 0

    def alive() -> bool:  # a zombie waiting for init to reap it counts as dead
        try:
            stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        except FileNotFoundError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] != "Z"

    deadline = time.monotonic() + 5
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive():
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the job outlived its agent")
