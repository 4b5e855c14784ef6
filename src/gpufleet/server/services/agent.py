"""The agent protocol: register, heartbeat, and a job's started / logs / finished reports.

Locks are taken node row first, then job rows (the order every service follows), so concurrent
requests on PostgreSQL queue instead of deadlocking. Repeated reports are harmless: a second
``started`` or ``finished`` from the node that ran the job returns the job unchanged.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gpufleet.domain.fleet import Acceptance, NodeState
from gpufleet.domain.job import JobState
from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import GpuRow, JobLogLineRow, JobRow, NodeRow
from gpufleet.server.errors import BadInputError, ConflictError, NotFoundError
from gpufleet.server.schemas import (
    Assignments,
    GpuTelemetry,
    Heartbeat,
    JobFinished,
    JobPublic,
    JobStart,
    NodePublic,
    NodeRegister,
    Role,
)
from gpufleet.server.services.acceptance import pending_request
from gpufleet.server.services.auth import Principal, require, require_node
from gpufleet.server.services.common import (
    HOLDING,
    change_state,
    job_public,
    load_job,
    node_public,
    record,
    reported_model,
    requeue,
)

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
"""NUL (PostgreSQL's text cannot hold it) and lone surrogates (not encodable as UTF-8)."""


def register(db: Database, principal: Principal, body: NodeRegister, now: datetime) -> NodePublic:
    """Create or update the node called ``body.name`` (idempotent) and bring it ``up``."""
    require_node(principal, body.name)
    indices = [g.index for g in body.gpus]
    if len(set(indices)) != len(indices):
        raise BadInputError(f"gpus: GPU indices repeat: {sorted(indices)}")
    with db.transaction() as session:
        node = _lock_node(session, body.name)
        if node is None:
            node = NodeRow(name=body.name, state=NodeState.UP.value, registered_at=now)
            session.add(node)
            kind, message = "node.registered", f"registered with {len(body.gpus)} GPUs"
        else:
            kind, message = "node.reregistered", f"registered again with {len(body.gpus)} GPUs"
        node.state = NodeState.UP.value
        node.simulated = body.simulated
        node.cpu_count = body.cpu_count
        node.memory_gib = body.memory_gib
        node.last_heartbeat = now
        _replace_gpus(node, body)
        session.flush()
        record(session, now, kind, message, node_id=node.id)
        return node_public(node)


def _replace_gpus(node: NodeRow, body: NodeRegister) -> None:
    """The node's GPUs as reported. On a delivered node (one with a purchase order) a GPU that
    is new, or whose UUID changed (the device was swapped), needs acceptance again, and so
    does the node; elsewhere GPUs need none."""
    by_index = {g.index: g for g in node.gpus}
    delivered = node.purchase_order_id is not None
    node.gpus = []
    for reported in sorted(body.gpus, key=lambda g: g.index):
        gpu = by_index.get(reported.index)
        if gpu is None or (delivered and gpu.uuid != reported.uuid):
            gpu = gpu or GpuRow(index=reported.index)
            gpu.acceptance = (Acceptance.PENDING if delivered else Acceptance.NOT_REQUIRED).value
            gpu.acceptance_note = ""
            if delivered:
                node.acceptance = Acceptance.PENDING.value
        gpu.model = reported_model(reported.model, reported.memory_gib)
        gpu.memory_gib = reported.memory_gib
        gpu.uuid = reported.uuid
        gpu.simulated = body.simulated
        node.gpus.append(gpu)


def _lock_node(session: Session, name: str) -> NodeRow | None:
    return session.scalar(select(NodeRow).where(NodeRow.name == name).with_for_update())


def heartbeat(
    db: Database,
    principal: Principal,
    body: Heartbeat,
    now: datetime,
    *,
    heartbeat_s: float,
    lost_after_s: float,
    burn_in_s: float = 30.0,
) -> Assignments:
    """Record telemetry, bring the node back ``up`` if it was lost, and answer what to start
    (its scheduled jobs it does not run yet) and what to stop (jobs it runs that are cancelled
    or no longer assigned to it). A scheduled job it reports running has started (its
    ``started`` report was lost); a cancelled scheduled job it never started is cancelled; a
    running job it has not reported for ``lost_after_s`` (the agent restarted, or never got to
    spawn it) goes back to pending, as if its node had been lost. A node waiting for its
    acceptance test gets it in ``acceptance`` (``services.acceptance``)."""
    require_node(principal, body.node)
    with db.transaction() as session:
        node = _lock_node(session, body.node)
        if node is None:
            msg = f"node: {body.node!r} is not registered; POST /agent/register first"
            raise NotFoundError(msg)
        if node.state == NodeState.LOST.value:
            record(session, now, "node.up", "heartbeat from a lost node", node_id=node.id)
            node.state = NodeState.UP.value
        node.last_heartbeat = now
        _record_telemetry(node, body.telemetry, now)
        assigned = {
            row.id: row
            for row in session.scalars(
                select(JobRow)
                .where(JobRow.node_id == node.id, JobRow.state.in_(HOLDING))
                .order_by(JobRow.priority.desc(), JobRow.id)
                .with_for_update()
            )
        }
        reported = set(body.running)
        start: list[JobStart] = []
        forgotten = now - timedelta(seconds=lost_after_s)
        for row in assigned.values():
            scheduled = row.state == JobState.SCHEDULED.value
            if row.id in reported:
                if scheduled:
                    change_state(row, JobState.RUNNING, now)
                    record(session, now, "job.started", "reported running", job_id=row.id)
                row.seen_running_at = now
                _enforce_time_limit(session, row, now)
            elif scheduled and row.cancel_requested:
                change_state(row, JobState.CANCELLED, now)
                record(session, now, "job.cancelled", "cancelled before it started", job_id=row.id)
            elif scheduled:
                start.append(_job_start(row))
            elif row.seen_running_at is None or row.seen_running_at < forgotten:
                requeue(session, row, now, f"{node.name} no longer runs it")
        stop = sorted(
            job for job in reported if job not in assigned or assigned[job].cancel_requested
        )
        return Assignments(
            start=start,
            stop=stop,
            heartbeat_s=heartbeat_s,
            acceptance=pending_request(session, node, now, burn_in_s),
        )


def _enforce_time_limit(session: Session, row: JobRow, now: datetime) -> None:
    """A running job past its own time limit is stopped (as a cancel: it ends ``cancelled``)."""
    if row.time_limit_s is None or row.started_at is None or row.cancel_requested:
        return
    if (now - row.started_at).total_seconds() <= row.time_limit_s:
        return
    row.cancel_requested = True
    message = f"time limit of {row.time_limit_s} s reached: stopping it"
    record(session, now, "job.time_limit", message, job_id=row.id, node_id=row.node_id)


def _record_telemetry(node: NodeRow, samples: list[GpuTelemetry], now: datetime) -> None:
    """The latest sample per GPU; samples for indices the node did not register are ignored."""
    gpus = {g.index: g for g in node.gpus}
    for sample in samples:
        gpu = gpus.get(sample.index)
        if gpu is not None:
            gpu.utilisation_pct = sample.utilisation_pct
            gpu.memory_used_gib = sample.memory_used_gib
            gpu.temperature_c = sample.temperature_c
            gpu.power_w = sample.power_w
            gpu.telemetry_at = now


def _job_start(row: JobRow) -> JobStart:
    return JobStart(
        job=row.id,
        command=list(row.command),
        gpu_indices=list(row.gpu_indices),
        env={
            "CUDA_DEVICE_ORDER": "PCI_BUS_ID",  # CUDA's device order = NVML's indices
            "CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in row.gpu_indices),
            "GPUFLEET_JOB_ID": str(row.id),
            "GPUFLEET_PROJECT": row.project.name,
            "GPUFLEET_ATTEMPT": str(row.attempts),
        },
    )


def _agent_job(session: Session, principal: Principal, job_id: int) -> JobRow:
    """The job, locked, if the caller's node is where it was placed (admins: any node)."""
    require(principal, Role.ADMIN, Role.AGENT)
    row = load_job(session, job_id, lock=True)
    if principal.role is Role.AGENT:
        node = row.node.name if row.node is not None else None
        if node != principal.node:
            raise ConflictError(
                f"job {job_id} is not assigned to node {principal.node!r} "
                f"(it is {row.state}{f' on {node!r}' if node else ''})"
            )
    return row


def started(db: Database, principal: Principal, job_id: int, now: datetime) -> JobPublic:
    """scheduled -> running; refused (409) unless the job is scheduled on the caller's node."""
    with db.transaction() as session:
        row = _agent_job(session, principal, job_id)
        if row.state != JobState.RUNNING.value:
            change_state(row, JobState.RUNNING, now)
            record(session, now, "job.started", "agent started it", job_id=row.id)
        return job_public(row)


def append_logs(db: Database, principal: Principal, job_id: int, lines: list[str]) -> None:
    """Append lines in order (sequence numbers continue from the last). A job's output is
    whatever it printed: what no database text can hold (NUL, lone surrogates) is stored as
    U+FFFD rather than refused, so one odd byte does not lose the rest of the log."""
    if not lines:
        return
    with db.transaction() as session:
        row = _agent_job(session, principal, job_id)
        last = session.scalar(
            select(func.coalesce(func.max(JobLogLineRow.seq), 0)).where(
                JobLogLineRow.job_id == row.id
            )
        )
        first = int(last or 0) + 1
        session.add_all(
            JobLogLineRow(job_id=row.id, seq=first + i, text=_storable(text))
            for i, text in enumerate(lines)
        )


def _storable(text: str) -> str:
    return _UNSTORABLE.sub("\ufffd", text)


def finished(
    db: Database, principal: Principal, job_id: int, body: JobFinished, now: datetime
) -> JobPublic:
    """A job's process ended: exit 0 -> succeeded, else failed; ``stopped`` on request ->
    cancelled (cancel requested) or back to pending (preempted). A repeat is a no-op."""
    with db.transaction() as session:
        row = _agent_job(session, principal, job_id)
        state = JobState(row.state)
        if state.final:
            return job_public(row)
        if body.stopped and row.cancel_requested:
            change_state(row, JobState.CANCELLED, now)
            row.exit_code = body.exit_code
            record(session, now, "job.cancelled", "stopped on request", job_id=row.id)
        elif body.stopped:
            change_state(row, JobState.PREEMPTED, now)
            requeue(session, row, now, "stopped by its agent")
        else:
            target = JobState.SUCCEEDED if body.exit_code == 0 else JobState.FAILED
            change_state(row, target, now)
            row.exit_code = body.exit_code
            record(
                session, now, f"job.{target.value}", f"exit code {body.exit_code}",
                job_id=row.id, node_id=row.node_id,
            )  # fmt: skip
        return job_public(row)
