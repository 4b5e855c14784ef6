"""Acceptance tests of delivered GPUs: ask the node's agent for one, judge its report.

* **Request.** While a node is ``pending`` and has registered its GPUs, every heartbeat answer
  carries its open test (made on the first such heartbeat): each GPU with the model and memory
  the purchase order promised. The agent runs it once per test id.
* **Judgement.** ``domain.acceptance.judge`` decides each GPU against the GPU table's spec
  (identity, health, burn-in; thresholds in ``docs/api.md``). Passed GPUs become schedulable;
  failed ones stay out with the reasons kept. The node is ``passed`` when at least one GPU
  passed, else ``failed`` (shown ``rejected``).
* **The order.** When every node of a delivered purchase order is judged, the order becomes
  ``accepted`` (some GPU passed) or ``rejected``; its counts include GPUs that never showed up
  (a machine that registered fewer GPUs than ordered).
* A repeated report returns the stored verdict; a report from another node, for an unknown
  test, or missing a requested GPU is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpufleet.catalog.gpus import UnknownGpuError, gpu_table
from gpufleet.domain.acceptance import BurnIn, GpuCheck, judge
from gpufleet.domain.fleet import Acceptance, NodeState, shown_state
from gpufleet.domain.purchase_order import PoState
from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import NodeRow
from gpufleet.server.db.supply_rows import AcceptanceTestRow, PurchaseOrderRow
from gpufleet.server.errors import ConflictError, NotFoundError, UnprocessableError
from gpufleet.server.schemas import AcceptanceRequest, ExpectedGpu
from gpufleet.server.schemas_supply import (
    AcceptanceReport,
    AcceptanceVerdict,
    GpuCheckIn,
    GpuVerdict,
)
from gpufleet.server.services.auth import Principal, require_node
from gpufleet.server.services.common import record
from gpufleet.server.services.orders import move

REQUESTED = "requested"
JUDGED = "judged"


def pending_request(
    session: Session, node: NodeRow, now: datetime, burn_in_s: float
) -> AcceptanceRequest | None:
    """The node's open acceptance test (made now if it has none); ``None`` when the node needs
    none or has not registered its GPUs yet."""
    if node.acceptance != Acceptance.PENDING.value or not node.gpus:
        return None
    test = session.scalar(
        select(AcceptanceTestRow).where(
            AcceptanceTestRow.node_id == node.id, AcceptanceTestRow.state == REQUESTED
        )
    )
    if test is None:
        test = AcceptanceTestRow(
            node_id=node.id,
            state=REQUESTED,
            requested_at=now,
            burn_in_s=burn_in_s,
            request=[_expected(node, g.index) for g in node.gpus],
        )
        session.add(test)
        session.flush()
        record(
            session, now, "node.acceptance", f"acceptance test {test.id} requested", node_id=node.id
        )
    return AcceptanceRequest(
        test=test.id,
        burn_in_s=test.burn_in_s,
        gpus=[ExpectedGpu(**g) for g in test.request],
    )


def _expected(node: NodeRow, index: int) -> dict[str, Any]:
    order = node.purchase_order
    model = order.gpu if order is not None else next(g.model for g in node.gpus if g.index == index)
    spec = gpu_table().resolve(model)
    return {"index": index, "model": model, "memory_gib": spec.memory_gib if spec else None}


def report(
    db: Database, principal: Principal, test_id: int, body: AcceptanceReport, now: datetime
) -> AcceptanceVerdict:
    require_node(principal, body.node)
    with db.transaction() as session:
        node = session.scalar(select(NodeRow).where(NodeRow.name == body.node).with_for_update())
        test = session.get(AcceptanceTestRow, test_id)
        if node is None or test is None:
            raise NotFoundError(f"acceptance test {test_id} of node {body.node!r} not found")
        if test.node_id != node.id:
            raise ConflictError(f"acceptance test {test_id} is not node {body.node!r}'s")
        if test.state == JUDGED:
            return _verdict(test, node)
        results = {r.index: r for r in body.results}
        missing = sorted(g["index"] for g in test.request if g["index"] not in results)
        if missing:
            raise UnprocessableError(f"results: no result for requested GPU(s) {missing}")
        verdicts = [_judge(results[g["index"]], g) for g in test.request]
        gpus = {g.index: g for g in node.gpus}
        for verdict in verdicts:
            gpu = gpus.get(verdict.index)
            if gpu is not None:
                outcome = Acceptance.PASSED if verdict.passed else Acceptance.FAILED
                gpu.acceptance = outcome.value
                gpu.acceptance_note = "; ".join(verdict.reasons or verdict.notes)
        passed = sum(v.passed for v in verdicts)
        node.acceptance = (Acceptance.PASSED if passed else Acceptance.FAILED).value
        test.state, test.judged_at = JUDGED, now
        test.report = [r.model_dump() for r in body.results]
        test.verdict = [v.model_dump() for v in verdicts]
        failed = [f"GPU {v.index}: {'; '.join(v.reasons)}" for v in verdicts if not v.passed]
        message = f"acceptance: {passed} of {len(verdicts)} GPUs passed" + (
            f" ({' | '.join(failed)})" if failed else ""
        )
        record(
            session, now, "node.accepted" if passed else "node.rejected", message, node_id=node.id
        )
        if node.purchase_order is not None:
            _close_order(session, node.purchase_order, now)
        session.flush()
        return _verdict(test, node)


def _judge(result: GpuCheckIn, expected: dict[str, Any]) -> GpuVerdict:
    check = GpuCheck(
        index=result.index,
        name=result.name,
        model=result.model,
        memory_gib=result.memory_gib,
        uuid=result.uuid,
        ecc_errors=result.ecc_errors,
        xid_errors=result.xid_errors,
        max_temperature_c=result.max_temperature_c,
        max_power_w=result.max_power_w,
        burn_in=BurnIn(result.burn_in),
        bf16_tflops=result.bf16_tflops,
        memory_bandwidth_gbps=result.memory_bandwidth_gbps,
        detail=result.detail,
    )
    try:
        spec = gpu_table().get(expected["model"])
    except UnknownGpuError:
        reason = f"the order's GPU model {expected['model']!r} is not in the GPU table"
        return GpuVerdict(index=result.index, passed=False, reasons=[reason])
    verdict = judge(check, spec)
    return GpuVerdict(
        index=result.index,
        passed=verdict.passed,
        reasons=list(verdict.reasons),
        notes=list(verdict.notes),
    )


def _verdict(test: AcceptanceTestRow, node: NodeRow) -> AcceptanceVerdict:
    state = shown_state(NodeState(node.state), Acceptance(node.acceptance))
    return AcceptanceVerdict(
        test=test.id,
        node_state=state,
        gpus=[GpuVerdict(**v) for v in test.verdict or []],
    )


def _close_order(session: Session, order: PurchaseOrderRow, now: datetime) -> None:
    """accepted / rejected once every node of the delivered order is judged."""
    if order.state != PoState.DELIVERED.value:
        return
    nodes = session.scalars(select(NodeRow).where(NodeRow.purchase_order_id == order.id)).all()
    if any(n.acceptance == Acceptance.PENDING.value for n in nodes):
        return
    passed = sum(g.acceptance == Acceptance.PASSED.value for n in nodes for g in n.gpus)
    registered = sum(len(n.gpus) for n in nodes)
    order.gpus_passed = passed
    order.gpus_failed = order.units * order.gpus_per_unit - passed
    missing = order.units * order.gpus_per_unit - registered
    note = f"{passed} of {order.units * order.gpus_per_unit} GPUs passed acceptance" + (
        f"; {missing} never showed up" if missing > 0 else ""
    )
    target = PoState.ACCEPTED if passed else PoState.REJECTED
    move(order, target, now, "acceptance", note)
