"""Reader for the spot availability and preemption traces of *Can't Be Late* (Wu et al., NSDI '24;
github.com/skypilot-org/spot-traces), turned into ``SpotEstimate``s.

Layout under the root (the shared data's ``spot/`` folder)::

    <kind>/<n>-node/<cloud>-<MM-DD-YYYY>/<zone>_<instance>.json

``kind`` is ``availability`` (capacity probed each tick) or ``preemption`` (instances kept
running and relaunched when lost); ``n`` the nodes wanted at once. Each file is
``{"metadata": {"gap_seconds": g}, "data": [c0, c1, ...]}``, ``c[t]`` the instances available or
running at tick ``t`` (``0..n``); other keys (``prices``, the spot price per tick in some
preemption files) are not used. Ticks are ``g`` seconds apart as the file states; the spacing
differs between folders (30 s to 600 s), so no default is assumed.

The ``<instance>`` token maps to an instance type and GPU through ``INSTANCES``; a token not in
the table is an error, never a guess. Every error names the file and what is wrong.

Quirks of the published traces (spot-traces as of 2024), kept as they are:

* ``availability/1-node/aws-10-26-2022`` states ``gap_seconds: 600``, which makes its 3,895 ticks
  27 days; its README says 13 days (which 300 s would give). The file's figure is used: the
  availability does not depend on it, the hours and preemption rates (per hour) do.
* Trace lengths differ within a folder (``4-node/aws-08-03-2023/us-east-1f`` 12.7 days, the
  other two 17.8; ``16-node/aws-08-27-2023/us-east-2b`` 11.3 days, the other two 16.4).
* ``preemption/1-node/gcp-04-30-2023``: CPU instances (``c3-highcpu-88``), no GPU; the three
  ``us-central1`` files are identical (one tick launching, then never preempted).
* ``aws-04-19-2023`` is, by its README, a trace started on 05/01/2023 (the folder name differs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gpufleet.catalog.gpus import GpuTable, gpu_table
from gpufleet.catalog.sources import find_shared_data
from gpufleet.planning.spot import SpotEstimate, estimate_from_ticks, pool_estimates

SPOT_SUBDIR = "spot"


class SpotTraceError(ValueError):
    pass


class SpotTraceKind(StrEnum):
    AVAILABILITY = "availability"
    PREEMPTION = "preemption"


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    instance_type: str
    gpu: str | None
    """GPU name as the catalog's table knows it; ``None`` for a CPU-only instance type."""
    gpu_memory_gib: float | None = None
    """Per-GPU memory, to pick the right member of a GPU family (V100 16 vs 32 GB)."""
    note: str = ""


_K80_1_NOTE = (
    "the trace README says p2.2xlarge, a size AWS never offered; p2.xlarge is the p2 with one GPU"
)
_K80_8_NOTE = (
    "as the trace README says ('8 K80': eight dual-GPU boards, which AWS counts as 16 GPUs); "
    "p2.8xlarge, 8 GPUs as AWS counts them, would also fit the file name"
)

INSTANCES: Mapping[tuple[str, str], InstanceSpec] = {
    ("aws", "v100_1"): InstanceSpec("p3.2xlarge", "V100", 16),
    ("aws", "v100_8"): InstanceSpec("p3.16xlarge", "V100", 16),
    ("aws", "k80_1"): InstanceSpec("p2.xlarge", "K80", note=_K80_1_NOTE),
    ("aws", "k80_8"): InstanceSpec("p2.16xlarge", "K80", note=_K80_8_NOTE),
    ("aws", "intel_64"): InstanceSpec("r5.16xlarge", None),
    ("gcp", "c3-88"): InstanceSpec("c3-highcpu-88", None),
}
"""``(cloud, file-name token)`` -> instance type, from the trace README."""

_NODES = re.compile(r"(?P<n>[1-9]\d*)-node")
_EXPERIMENT = re.compile(r"(?P<cloud>[a-z]+)-\d\d-\d\d-\d{4}")
_FILE = re.compile(r"(?P<zone>[a-z]+(?:-[a-z0-9]+)+)_(?P<token>[A-Za-z0-9_-]+)\.json")


@dataclass(frozen=True, slots=True, eq=False)  # eq=False: ``counts`` is an array
class SpotTrace:
    path: Path
    kind: SpotTraceKind
    experiment: str
    """The folder, ``<cloud>-<MM-DD-YYYY>`` (the date the trace started, per its name)."""
    cloud: str
    zone: str
    instance_type: str
    gpu: str | None
    """GPU model id in the catalog's table; ``None`` for a CPU-only instance type."""
    nodes: int
    gap_seconds: float
    counts: NDArray[np.int64]

    def estimate(self) -> SpotEstimate:
        return estimate_from_ticks(
            self.counts,
            gap_seconds=self.gap_seconds,
            cloud=self.cloud,
            gpu=self.gpu,
            instance_type=self.instance_type,
            nodes=self.nodes,
        )


def find_spot_dir(env: Mapping[str, str], cwd: Path) -> Path | None:
    """The shared data's ``spot/`` folder (located by ``sources.find_shared_data``), if any."""
    shared = find_shared_data(env, cwd)
    path = None if shared is None else shared / SPOT_SUBDIR
    return path if path is not None and path.is_dir() else None


def read_spot_traces(root: Path, table: GpuTable | None = None) -> tuple[SpotTrace, ...]:
    """Every ``*.json`` trace under ``root``, sorted by path."""
    if not root.is_dir():
        raise SpotTraceError(f"{root}: not a folder")
    paths = sorted(root.rglob("*.json"))
    if not paths:
        raise SpotTraceError(f"{root}: holds no *.json spot traces")
    gpus = table or gpu_table()
    return tuple(read_spot_trace(path, root, gpus) for path in paths)


def read_spot_trace(path: Path, root: Path, table: GpuTable) -> SpotTrace:
    """One trace; its kind, node count, cloud and instance come from its place under ``root``."""
    kind, nodes, experiment, cloud, zone, spec = _place(path, root)
    gap_seconds, counts = _content(path, nodes)
    gpu = None
    if spec.gpu is not None:
        model = table.refine(table.require(spec.gpu), name=spec.gpu, memory_gib=spec.gpu_memory_gib)
        gpu = model.id
    return SpotTrace(
        path, kind, experiment, cloud, zone, spec.instance_type, gpu, nodes, gap_seconds, counts
    )


def _place(path: Path, root: Path) -> tuple[SpotTraceKind, int, str, str, str, InstanceSpec]:
    parts = path.relative_to(root).parts
    expected = "<kind>/<n>-node/<cloud>-<MM-DD-YYYY>/<zone>_<instance>.json"
    if len(parts) != 4:
        raise SpotTraceError(f"{path}: not at {expected} under {root}")
    kind_name, nodes_name, experiment, file_name = parts
    nodes_match = _NODES.fullmatch(nodes_name)
    experiment_match = _EXPERIMENT.fullmatch(experiment)
    file_match = _FILE.fullmatch(file_name)
    known_kinds = {k.value for k in SpotTraceKind}
    if kind_name not in known_kinds or not (nodes_match and experiment_match and file_match):
        raise SpotTraceError(f"{path}: not at {expected} (kind one of {sorted(known_kinds)})")
    cloud = experiment_match["cloud"]
    spec = INSTANCES.get((cloud, file_match["token"]))
    if spec is None:
        known = ", ".join(f"{c}:{t}" for c, t in INSTANCES)
        raise SpotTraceError(
            f"{path}: unknown instance {file_match['token']!r} for {cloud} "
            f"(known: {known}); add it to INSTANCES"
        )
    nodes = int(nodes_match["n"])
    return SpotTraceKind(kind_name), nodes, experiment, cloud, file_match["zone"], spec


def _content(path: Path, nodes: int) -> tuple[float, NDArray[np.int64]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpotTraceError(f"{path}: cannot read: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpotTraceError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SpotTraceError(f"{path}: expected a JSON object with 'metadata' and 'data'")
    metadata = document.get("metadata")
    gap = metadata.get("gap_seconds") if isinstance(metadata, dict) else None
    if isinstance(gap, bool) or not isinstance(gap, int | float) or not 0 < gap < float("inf"):
        raise SpotTraceError(f"{path}: metadata.gap_seconds must be a number > 0, got {gap!r}")
    data = document.get("data")
    if not isinstance(data, list) or not data:
        raise SpotTraceError(f"{path}: 'data' must be a non-empty list of instance counts")
    for index, value in enumerate(data):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= nodes:
            raise SpotTraceError(
                f"{path}: data[{index}] = {value!r}, expected a whole number in 0..{nodes} "
                f"(instances available of the {nodes} wanted)"
            )
    return float(gap), np.asarray(data, dtype=np.int64)


def estimates(traces: Iterable[SpotTrace]) -> tuple[SpotEstimate, ...]:
    """One estimate per trace, in the traces' order."""
    return tuple(t.estimate() for t in traces)


def pool_by_gpu(traces: Iterable[SpotTrace]) -> tuple[SpotEstimate, ...]:
    """Pooled per ``(cloud, gpu, nodes)``: every instance type, zone and trace kind together."""
    return _pooled(traces, lambda t: (t.cloud, t.gpu or "", t.nodes))


def pool_by_instance_type(traces: Iterable[SpotTrace]) -> tuple[SpotEstimate, ...]:
    """Pooled per ``(cloud, instance_type, nodes)``: every zone and trace kind together."""
    return _pooled(traces, lambda t: (t.cloud, t.instance_type, t.nodes))


def _pooled(
    traces: Iterable[SpotTrace], key: Callable[[SpotTrace], tuple[str, str, int]]
) -> tuple[SpotEstimate, ...]:
    groups: dict[tuple[str, str, int], list[SpotEstimate]] = {}
    for trace in traces:
        groups.setdefault(key(trace), []).append(trace.estimate())
    return tuple(pool_estimates(groups[k]) for k in sorted(groups))
