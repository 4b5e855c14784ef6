"""The port through which delivered machines get their agent: ``Provisioner.provision``.

A supplier adapter says which machines it delivered; the control plane makes each a node row
(quarantined until its acceptance test passes) and, when a provisioner is configured, an agent
token that it hands over with the machine. ``gpufleet up`` provisions simulated deliveries by
starting local agents with fake GPUs; a cloud adapter would pass the token to the instance's
start-up script. Without a provisioner an admin makes the token (``gpufleet tokens create
--role agent --node NAME``) and starts the agent on the machine.

Called outside any database transaction; a failure is logged by the caller and does not undo
the delivery (the node waits, quarantined, for its agent).
"""

from __future__ import annotations

from typing import Protocol

from gpufleet.server.suppliers.base import NodeDelivery


class Provisioner(Protocol):
    def provision(self, node: NodeDelivery, token: str) -> None: ...


class RecordingProvisioner:
    """Keeps what it was asked to provision (tests, and a dry run)."""

    def __init__(self) -> None:
        self.delivered: list[tuple[NodeDelivery, str]] = []

    def provision(self, node: NodeDelivery, token: str) -> None:
        self.delivered.append((node, token))
