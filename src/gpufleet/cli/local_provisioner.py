"""``gpufleet up``'s provisioner: machines a simulated supplier delivers become agents in this
process, with simulated GPUs (and the faults the supplier injected), so a whole supply chain —
plan, order, delivery, acceptance, jobs, costs — runs on one laptop.

Each delivered node gets an agent thread (``run_agent``) with the agent token the control plane
made for it. ``stop()`` stops them all (their jobs go back to pending, as the local agent's do).
On a restart of ``up`` the nodes simulated suppliers delivered earlier get their agents back
(``restore``): new tokens, the same simulated GPUs (the same UUIDs, so acceptance results stand).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy import select

from gpufleet.agent import AgentConfig, run_agent
from gpufleet.server.clock import utc_now
from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import NodeRow
from gpufleet.server.db.supply_rows import PurchaseOrderRow, SupplierRow
from gpufleet.server.schemas import Role, TokenCreate
from gpufleet.server.services.auth import issue_token
from gpufleet.server.suppliers import NodeDelivery

log = logging.getLogger(__name__)


@dataclass
class LocalProvisioner:
    """Runs an agent thread per delivered simulated machine (see the module docstring)."""

    server_url: str
    heartbeat_s: float = 5.0
    _threads: list[tuple[threading.Thread, threading.Event]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def provision(self, node: NodeDelivery, token: str) -> None:
        faults = ",".join(f"{index}={kind}" for index, kind in sorted(node.faults.items()))
        config = AgentConfig(
            server_url=self.server_url,
            token=token,
            name=node.name,
            fake_gpus=f"{node.gpus}x{node.gpu}",
            fake_faults=faults or None,
            heartbeat_s=self.heartbeat_s,
        )
        stop = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(config, stop), name=f"agent-{node.name}", daemon=True
        )
        with self._lock:
            self._threads.append((thread, stop))
        thread.start()
        log.info("provisioned simulated machine %s: %dx %s", node.name, node.gpus, node.gpu)

    @staticmethod
    def _run(config: AgentConfig, stop: threading.Event) -> None:
        try:
            run_agent(config, stop_event=stop)
        except Exception:  # a simulated machine failing must not take `up` down
            log.exception("the agent of simulated machine %s stopped", config.name)

    def restore(self, db: Database) -> list[str]:
        """Start agents again for the nodes simulated suppliers delivered before a restart."""
        with db.transaction() as session:
            rows = session.execute(
                select(NodeRow.name, PurchaseOrderRow.gpu, PurchaseOrderRow.gpus_per_unit)
                .join(PurchaseOrderRow, NodeRow.purchase_order_id == PurchaseOrderRow.id)
                .join(SupplierRow, PurchaseOrderRow.supplier_id == SupplierRow.id)
                .where(SupplierRow.adapter == "simulated")
                .order_by(NodeRow.name)
            ).all()
        for name, gpu, gpus in rows:
            body = TokenCreate(user=f"agent-{name}"[:100], role=Role.AGENT, node=name)
            token = issue_token(db, body, utc_now()).token
            self.provision(NodeDelivery(name=name, gpu=gpu, gpus=gpus), token)
        return [name for name, _, _ in rows]

    def stop(self) -> None:
        with self._lock:
            threads = list(self._threads)
            self._threads.clear()
        for _, stop in threads:
            stop.set()
        for thread, _ in threads:
            thread.join()
