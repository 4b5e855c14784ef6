"""Workloads by name, and clusters by spec: what ``gpufleet simulate --trace/--cluster`` takes.

``parse_trace("gavel:seed=0")`` builds the workload with its default cluster and the jobs to
measure (a ``Trace``); ``parse_cluster("36xV100,36xP100,36xK80")`` reads a cluster. The
builders themselves are in ``workloads.py``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gpufleet.catalog.sources import find_shared_data
from gpufleet.sim.rounds_sim import Workload
from gpufleet.sim.traces import gavel
from gpufleet.sim.workloads import (
    CONTINUOUS_CLUSTER,
    GAVEL_TYPES,
    MEASURED_IDS,
    PHILLY_CLUSTER,
    PHILLY_SCALE_FACTORS,
    BuildReport,
    WorkloadError,
    gavel_generated,
    gavel_vc,
    openb_cluster,
    openb_cpu_memory,
    openb_timed,
    poisson,
)

TRACE_FORMS = (
    "gavel:seed=N",
    "gavel:continuous:rate=R",
    "openb:WORKLOAD",
    "poisson:rate=R,jobs=N[,seed=S][,multigpu=philly]",
)


_CLUSTER_ITEM = re.compile(r"\s*(\d+)\s*[xX]\s*([A-Za-z0-9_.-]+)\s*")


def parse_cluster(text: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """``"36xV100,36xP100,36xK80"`` -> ``(("v100", "p100", "k80"), (36, 36, 36))``.

    GPU types are lower-cased as Gavel spells them; order is kept; counts must be >= 1 and
    types distinct.
    """
    example = "expected COUNTxTYPE[,COUNTxTYPE...], e.g. 36xV100,36xP100,36xK80"
    if not text.strip():
        raise WorkloadError(f"empty cluster; {example}")
    types: list[str] = []
    counts: list[int] = []
    for item in text.split(","):
        match = _CLUSTER_ITEM.fullmatch(item)
        if match is None:
            raise WorkloadError(f"cluster item {item.strip()!r}: {example}")
        count, name = int(match[1]), match[2].lower()
        if count < 1:
            raise WorkloadError(f"cluster item {item.strip()!r}: needs at least 1 GPU")
        if name in types:
            raise WorkloadError(f"cluster {text!r} names {name} twice")
        types.append(name)
        counts.append(count)
    return tuple(types), tuple(counts)


@dataclass(frozen=True, slots=True)
class Trace:
    """A workload with its GPU-type columns, its default cluster and the jobs to measure."""

    name: str
    workload: Workload
    gpu_types: tuple[str, ...]
    capacity: tuple[int, ...]
    measure: tuple[int, ...] = ()
    """Row indices whose completion ends the run (``simulate(measure=...)``); empty: all."""
    report: BuildReport = field(default_factory=BuildReport)
    cpu_capacity_milli: float = 0.0
    """The cluster's CPU when the trace has it (openb): DRF then counts CPU."""
    memory_capacity_mib: float = 0.0

    def runnable(self) -> tuple[Trace, int]:
        """The jobs that fit this cluster somewhere (a type they run on with GPUs for the whole
        gang), and how many did not; measured rows are renumbered."""
        w = self.workload
        capacity = np.asarray(self.capacity)
        fits = ((w.throughput > 0) & (w.gpus[:, None] <= capacity[None, :])).any(axis=1)
        dropped = int((~fits).sum())
        if not dropped:
            return self, 0
        rows = np.flatnonzero(fits)
        new_row = np.full(len(w), -1)
        new_row[rows] = np.arange(rows.size)
        subset: dict[str, Any] = {
            name: (value[rows] if isinstance(value, np.ndarray) else value)
            for name, value in ((f.name, getattr(w, f.name)) for f in dataclasses.fields(w))
        }
        if w.job_type:
            subset["job_type"] = tuple(w.job_type[i] for i in rows.tolist())
        measure = tuple(int(new_row[m]) for m in self.measure if new_row[m] >= 0)
        report = BuildReport(rows.size, self.report.skipped.copy(), self.report.adjusted.copy())
        report.skipped["larger than any GPU type of the cluster (or runs on none of its types)"] = (
            dropped
        )
        return dataclasses.replace(
            self, workload=dataclasses.replace(w, **subset), measure=measure, report=report
        ), dropped

    def on_cluster(self, gpu_types: Sequence[str], capacity: Sequence[int]) -> Trace:
        """The same jobs on another cluster: throughput columns picked by type name (case
        ignored); a cluster type the trace has no throughput for is an error."""
        index = {t.lower(): k for k, t in enumerate(self.gpu_types)}
        missing = [t for t in gpu_types if t.lower() not in index]
        if missing or len(gpu_types) != len(capacity):
            known = ", ".join(self.gpu_types)
            msg = f"cluster type(s) {', '.join(missing)} not in trace {self.name} ({known})"
            raise WorkloadError(msg if missing else "one capacity per GPU type, please")
        columns = [index[t.lower()] for t in gpu_types]
        workload = dataclasses.replace(
            self.workload, throughput=self.workload.throughput[:, columns]
        )
        return dataclasses.replace(
            self,
            workload=workload,
            gpu_types=tuple(self.gpu_types[c] for c in columns),
            capacity=tuple(int(c) for c in capacity),
        )


def _options(text: str, spec: str, known: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in known:
            raise WorkloadError(f"trace {spec!r}: bad option {item!r}; options: {', '.join(known)}")
        out[key.strip()] = value.strip()
    return out


def _number(options: Mapping[str, str], key: str, spec: str, kind: Callable[[str], float]) -> float:
    if key not in options:
        raise WorkloadError(f"trace {spec!r}: needs {key}=...; forms: {'; '.join(TRACE_FORMS)}")
    try:
        return kind(options[key])
    except ValueError:
        raise WorkloadError(f"trace {spec!r}: {key}={options[key]!r} is not a number") from None


def _gavel_trace(spec: str, rest: str, data: Path) -> Trace:
    folder = data / "traces" / "gavel"
    table = gavel.read_throughputs(folder / "simulation_throughputs.json")
    report = BuildReport()
    if rest.startswith("continuous:"):
        rate = _number(_options(rest[len("continuous:") :], spec, ("rate",)), "rate", spec, float)
        pattern = re.compile(r"continuous_single_seed0_([0-9.]+)jobs_per_h\.tsv")
        files = {
            float(m[1]): p
            for p in (folder / "generated").glob("*.tsv")
            if (m := pattern.fullmatch(p.name))
        }
        if rate not in files:
            rates = ", ".join(f"{r:g}" for r in sorted(files)) or "none"
            raise WorkloadError(
                f"trace {spec!r}: no generated job list at rate {rate:g}; have {rates}"
            )
        workload = gavel_generated(files[rate], table, report=report)
        measure = tuple(MEASURED_IDS) if len(workload) >= MEASURED_IDS.stop else ()
        return Trace(spec, workload, GAVEL_TYPES, CONTINUOUS_CLUSTER, measure, report)
    seed = int(_number(_options(rest, spec, ("seed",)), "seed", spec, int))
    seed_dir = folder / f"seed={seed}"
    if not seed_dir.is_dir():
        seeds = ", ".join(sorted(p.name for p in folder.glob("seed=*"))) or "none"
        raise WorkloadError(f"trace {spec!r}: no folder {seed_dir}; have {seeds}")
    workload = gavel_vc(seed_dir, table, report=report)
    return Trace(spec, workload, GAVEL_TYPES, PHILLY_CLUSTER, (), report)


def _openb_trace(spec: str, rest: str, data: Path) -> Trace:
    folder = data / "traces" / "openb"
    report = BuildReport()
    workload = openb_timed(folder, rest, report=report)
    models, capacity = openb_cluster(folder)
    cpu, memory = openb_cpu_memory(folder)
    return Trace(spec, workload, models, capacity, (), report, cpu, memory)


def _poisson_trace(spec: str, rest: str, data: Path) -> Trace:
    options = _options(rest, spec, ("rate", "jobs", "seed", "multigpu"))
    multigpu = options.get("multigpu", "none")
    if multigpu not in {"none", "philly"}:
        raise WorkloadError(f"trace {spec!r}: multigpu must be none or philly, got {multigpu!r}")
    table = gavel.read_throughputs(data / "traces" / "gavel" / "simulation_throughputs.json")
    report = BuildReport()
    workload = poisson(
        _number(options, "rate", spec, float),
        int(_number(options, "jobs", spec, int)),
        table,
        int(_number({"seed": "0", **options}, "seed", spec, int)),
        scale_factors=PHILLY_SCALE_FACTORS if multigpu == "philly" else None,
        report=report,
    )
    return Trace(spec, workload, GAVEL_TYPES, CONTINUOUS_CLUSTER, (), report)


_TRACES: dict[str, Callable[[str, str, Path], Trace]] = {
    "gavel": _gavel_trace,
    "openb": _openb_trace,
    "poisson": _poisson_trace,
}


def parse_trace(spec: str, *, data_dir: Path | None = None) -> Trace:
    """A workload by name (``TRACE_FORMS``) with its default cluster: Gavel's VC traces on
    ``PHILLY_CLUSTER``, its continuous-single lists and ``poisson`` on ``CONTINUOUS_CLUSTER``
    (continuous-single also measures ids 4000-4999), openb on its own node list. Data comes
    from ``data_dir``, else ``find_shared_data`` ($GPUFLEET_DATA or ../shared/data)."""
    kind, _, rest = spec.strip().partition(":")
    if kind not in _TRACES or not rest:
        raise WorkloadError(f"unknown trace {spec!r}; valid forms: {'; '.join(TRACE_FORMS)}")
    data = data_dir if data_dir is not None else find_shared_data(os.environ, Path.cwd())
    if data is None:
        raise WorkloadError(
            "shared data not found: set GPUFLEET_DATA or place it at ../shared/data"
        )
    return _TRACES[kind](spec, rest, data)
