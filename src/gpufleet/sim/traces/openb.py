"""Reader for Alibaba's GPU cluster trace v2023 ("openb"), as used by the FGD paper.

Nodes: ``openb_node_list_gpu_node.csv`` (``sn,cpu_milli,memory_mib,gpu,model``) — the 1,213-node,
6,212-GPU cluster. Workloads: ``openb_pod_list_<name>.csv``; columns used: ``name, cpu_milli,
memory_mib, num_gpu, gpu_milli`` and, where present, ``gpu_spec`` (``V100M16|V100M32``: the GPU
models allowed). ``gpu_milli`` is clipped to 0..1000 as the authors' converter does. Pods are
returned sorted by name. Every problem names the file, line and column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from gpufleet.scheduling.placement.request import MILLI_PER_GPU, PlacementRequest
from gpufleet.scheduling.placement.state import NodeSpec

NODE_FILE = "openb_node_list_gpu_node.csv"
WORKLOADS = (
    "default", "cpu050", "cpu100", "cpu200", "cpu250", "gpushare40", "gpushare60", "gpushare80",
    "gpushare100", "gpuspec10", "gpuspec20", "gpuspec25", "gpuspec33", "multigpu20", "multigpu30",
    "multigpu40", "multigpu50",
)  # fmt: skip
"""The 17 workloads the FGD paper evaluated."""


class TraceError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class OpenbWorkload:
    name: str
    nodes: tuple[NodeSpec, ...]
    pods: tuple[PlacementRequest, ...]
    """Sorted by name, as the authors' simulator orders them before shuffling."""


def _int(row: dict[str, str], column: str, where: str) -> int:
    text = (row.get(column) or "").strip()
    try:
        return int(text)
    except ValueError:
        raise TraceError(f"{where}: [{column}] not a whole number: {text!r}") from None


def read_rows(path: Path, required: tuple[str, ...]) -> list[tuple[str, dict[str, str]]]:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise TraceError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise TraceError(f"{path}:1: missing column(s) {', '.join(missing)}")
        return [(f"{path}:{reader.line_num}", row) for row in reader]


def read_nodes(path: Path) -> tuple[NodeSpec, ...]:
    nodes = []
    for where, row in read_rows(path, ("sn", "cpu_milli", "memory_mib", "gpu", "model")):
        cpu, memory, gpus = (_int(row, c, where) for c in ("cpu_milli", "memory_mib", "gpu"))
        try:
            nodes.append(NodeSpec(row["sn"], cpu, memory, gpus, row["model"].strip()))
        except ValueError as exc:
            raise TraceError(f"{where}: {exc}") from None
    return tuple(sorted(nodes, key=lambda n: n.name))


def read_pods(path: Path) -> tuple[PlacementRequest, ...]:
    pods = []
    for where, row in read_rows(path, ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")):
        num_gpu = _int(row, "num_gpu", where)
        milli = min(max(_int(row, "gpu_milli", where), 0), MILLI_PER_GPU) if num_gpu else 0
        spec = (row.get("gpu_spec") or "").strip()
        models = frozenset(s for s in spec.split("|") if s) if num_gpu and spec else None
        cpu, memory = _int(row, "cpu_milli", where), _int(row, "memory_mib", where)
        try:
            pods.append(
                PlacementRequest(
                    cpu_milli=cpu,
                    memory_mib=memory,
                    num_gpu=num_gpu,
                    gpu_milli=milli,
                    gpu_models=models,
                    name=row["name"],
                )
            )
        except ValueError as exc:
            raise TraceError(f"{where}: {exc}") from None
    return tuple(sorted(pods, key=lambda p: p.name))


def load_workload(trace_dir: Path, name: str) -> OpenbWorkload:
    """One workload (``default``, ``cpu050``, ...) with the GPU-node cluster."""
    if name not in WORKLOADS:
        raise TraceError(f"unknown openb workload {name!r}; known: {', '.join(WORKLOADS)}")
    return OpenbWorkload(
        name=name,
        nodes=read_nodes(trace_dir / NODE_FILE),
        pods=read_pods(trace_dir / f"openb_pod_list_{name}.csv"),
    )


@dataclass(frozen=True, slots=True)
class PodSpan:
    """When a pod held GPUs, for demand history (``gpufleet.sim.traces.usage``)."""

    name: str
    gpus: float
    """``num_gpu * gpu_milli / 1000``, ``gpu_milli`` clipped as ``read_pods`` does."""
    creation_s: int
    deletion_s: int | None
    """``None`` where the trace leaves ``deletion_time`` empty (the pod was still running)."""


def read_pod_spans(path: Path) -> tuple[PodSpan, ...]:
    """Each pod's GPUs with its ``creation_time`` and ``deletion_time`` (trace seconds)."""
    spans = []
    required = ("name", "num_gpu", "gpu_milli", "creation_time", "deletion_time")
    for where, row in read_rows(path, required):
        num_gpu = _int(row, "num_gpu", where)
        milli = min(max(_int(row, "gpu_milli", where), 0), MILLI_PER_GPU) if num_gpu else 0
        creation = _int(row, "creation_time", where)
        ended = (row.get("deletion_time") or "").strip()
        deletion = _int(row, "deletion_time", where) if ended else None
        if num_gpu < 0:
            raise TraceError(f"{where}: [num_gpu] must be >= 0, got {num_gpu}")
        if deletion is not None and deletion < creation:
            raise TraceError(f"{where}: [deletion_time] {deletion} before creation {creation}")
        spans.append(PodSpan(row["name"], num_gpu * milli / MILLI_PER_GPU, creation, deletion))
    return tuple(sorted(spans, key=lambda s: s.name))
