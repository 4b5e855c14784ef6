"""Workloads for the round-based simulator (``rounds_sim.simulate``), read from public traces or
generated, and the trace names the command line accepts.

* ``gavel_generated`` — Gavel's continuous-single job lists (``generated/*.tsv``).
* ``gavel_vc`` — the Philly-derived per-virtual-cluster traces of one seed, merged.
* ``openb_timed`` — Alibaba's openb pods with their creation and deletion times.
* ``poisson`` — our generator, after Gavel's ``generate_job``.
* ``parse_cluster`` / ``parse_trace`` — ``"36xV100,36xP100"`` and ``"gavel:seed=0"`` style names.

Guarantees: every builder returns jobs in arrival order with ids ``0..N-1`` (or the file's own
ids), ``throughput`` columns in a documented GPU-type order, and positive ``total_steps``. What
a builder leaves out or adjusts on purpose is counted in the ``BuildReport`` passed in, never
dropped silently; malformed input raises ``WorkloadError`` (or the trace reader's error) naming
the file and line.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gpufleet.scheduling.placement.request import MILLI_PER_GPU
from gpufleet.sim.rounds_sim import Failure, Workload
from gpufleet.sim.traces import gavel, openb
from gpufleet.sim.traces.gavel import ThroughputTable

GAVEL_TYPES = gavel.GPU_TYPES
"""Throughput columns of every Gavel-based workload: ``("v100", "p100", "k80")``."""
CONTINUOUS_CLUSTER = (36, 36, 36)
"""Gavel's continuous-single cluster (``docs/gavel-mechanism.md``)."""
PHILLY_CLUSTER = (300, 300, 300)
"""``cluster_specs_heterogeneous.json``: philly = 300 V100 : 300 P100 : 300 K80."""
PHILLY_SCALE_FACTORS: Mapping[int, float] = {1: 0.7, 2: 0.1, 4: 0.15, 8: 0.05}
"""Gavel's ``_generate_scale_factor`` (``scheduler/utils.py``): r ~ U(0, 1); 2 GPUs for
0.7 <= r <= 0.8, 4 for 0.8 < r <= 0.95, 8 above, else 1."""
MEASURED_IDS = range(4000, 5000)
"""The continuous-single protocol's measured jobs."""

EXTRAPOLATED = "throughput extrapolated linearly from the largest smaller measured scale"
FRACTIONAL = "fractional GPU request run on 1 whole GPU"
CPU_ONLY = "CPU-only pod"
NO_DELETION = "no deletion time (still running when the trace ends)"
ZERO_DURATION = "deletion time equals creation time"
NO_MODEL = "no GPU model allowed by gpu_spec has enough GPUs in the cluster"


Float = NDArray[np.float64]


class WorkloadError(ValueError):
    pass


@dataclass(slots=True)
class BuildReport:
    """What a builder produced, left out on purpose and adjusted, by reason."""

    jobs: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    adjusted: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        out = [f"{self.jobs} jobs"]
        out += [f"skipped {n}: {why}" for why, n in sorted(self.skipped.items())]
        out += [f"adjusted {n}: {why}" for why, n in sorted(self.adjusted.items())]
        return out


def _count(report: BuildReport | None, jobs: int) -> None:
    if report is not None:
        report.jobs = jobs


# ------------------------------------------------------------------------------------- Gavel


def gavel_throughputs(
    job_types: Sequence[str],
    scales: Sequence[int],
    table: ThroughputTable,
    *,
    where: str = "",
    report: BuildReport | None = None,
) -> Float:
    """(jobs, 3) steps per second of each whole job alone, columns in ``GAVEL_TYPES`` order.

    A (job type, scale) the table lacks — the table measures scales 1, 2, 4, 8 and some types
    (A3C, CycleGAN, Recommendation) only at 1 — is extrapolated from the largest measured scale
    ``s0 <= scale`` of that job type, assuming linear scaling beyond the largest measured gang:
    ``T(scale) = T(s0) * scale / s0`` on every GPU type. An optimistic assumption (real data
    parallelism scales sub-linearly); the jobs it affects are counted under ``EXTRAPOLATED``.
    """
    measured: dict[str, list[int]] = {}
    for job_type, scale in table.rates:
        measured.setdefault(job_type, []).append(scale)
    cache: dict[tuple[str, int], tuple[list[float], bool]] = {}
    out = np.empty((len(job_types), len(GAVEL_TYPES)))
    guessed = 0
    for i, key in enumerate(zip(job_types, (int(s) for s in scales), strict=True)):
        if key not in cache:
            cache[key] = _rates(key, table, measured.get(key[0], []), where)
        out[i], extrapolated = cache[key]
        guessed += extrapolated
    if report is not None and guessed:
        report.adjusted[EXTRAPOLATED] += guessed
    return out


def _rates(
    key: tuple[str, int], table: ThroughputTable, scales: list[int], where: str
) -> tuple[list[float], bool]:
    job_type, scale = key
    smaller = [s for s in scales if s <= scale]
    if not smaller:
        prefix = f"{where}: " if where else ""
        msg = f"{prefix}no throughput for {job_type!r} at scale {scale} or any smaller scale"
        raise WorkloadError(msg)
    base = max(smaller)
    rates = table.rates[(job_type, base)]
    missing = [g for g in GAVEL_TYPES if g not in rates]
    if missing:
        msg = f"no {', '.join(missing)} throughput for ({job_type!r}, {base})"
        raise WorkloadError(msg)
    return [rates[g] * scale / base for g in GAVEL_TYPES], base != scale


def _gavel_workload(
    jobs: gavel.JobList,
    table: ThroughputTable,
    report: BuildReport | None,
    project: NDArray[np.int64] | None = None,
    projects: tuple[str, ...] = ("default",),
) -> Workload:
    throughput = gavel_throughputs(
        jobs.job_type, jobs.scale.tolist(), table, where=jobs.source, report=report
    )
    _count(report, len(jobs))
    return Workload(
        job_id=jobs.job_id,
        gpus=jobs.scale,
        throughput=throughput,
        total_steps=jobs.total_steps,
        arrival_s=jobs.arrival_s,
        project=project,
        projects=projects,
        job_type=jobs.job_type,
    )


def gavel_generated(
    path: Path, table: ThroughputTable, *, report: BuildReport | None = None
) -> Workload:
    """A continuous-single job list as Gavel's simulator generated it: the file's job ids,
    arrivals, scale factors (1) and total steps; throughputs from ``table`` (``GAVEL_TYPES``
    columns); one project."""
    return _gavel_workload(gavel.read_generated_jobs(path), table, report)


def gavel_vc(
    seed_dir: Path, table: ThroughputTable, *, report: BuildReport | None = None
) -> Workload:
    """Every per-VC trace (``*.trace``) of one seed folder, merged in arrival order.

    Ties in arrival time keep file order (files sorted by name), then line order. The project
    of a job is its VC (the file stem; ``projects`` sorted by name); job ids are renumbered
    ``0..N-1`` in merged order; ``gpus`` is the scale factor. Throughputs of (job type, scale)
    pairs the table lacks are extrapolated (``gavel_throughputs``).
    """
    files = sorted(seed_dir.glob("*.trace"))
    if not files:
        raise WorkloadError(f"{seed_dir}: no *.trace files")
    lists = [gavel.read_vc_trace(f) for f in files]
    order = np.argsort(np.concatenate([j.arrival_s for j in lists]), kind="stable")
    types = [t for j in lists for t in j.job_type]
    merged = gavel.JobList(
        job_id=np.arange(order.size, dtype=np.int64),
        job_type=tuple(types[i] for i in order.tolist()),
        scale=np.concatenate([j.scale for j in lists])[order],
        total_steps=np.concatenate([j.total_steps for j in lists])[order],
        arrival_s=np.concatenate([j.arrival_s for j in lists])[order],
        source=str(seed_dir),
    )
    vc = np.concatenate([np.full(len(j), k, dtype=np.int64) for k, j in enumerate(lists)])
    return _gavel_workload(merged, table, report, vc[order], tuple(f.stem for f in files))


# ------------------------------------------------------------------------------------- openb


def openb_cluster(trace_dir: Path) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The openb GPU models (sorted by name, spelled as in the node list) and the GPUs of each."""
    per_model: Counter[str] = Counter()
    for node in openb.read_nodes(trace_dir / openb.NODE_FILE):
        if node.gpus > 0:
            per_model[node.model] += node.gpus
    models = tuple(sorted(per_model))
    return models, tuple(per_model[m] for m in models)


def _whole(row: dict[str, str], column: str, where: str) -> int:
    text = (row.get(column) or "").strip()
    try:
        return int(text)
    except ValueError:
        raise WorkloadError(f"{where}: [{column}] not a whole number: {text!r}") from None


def openb_timed(
    trace_dir: Path, workload_name: str, *, report: BuildReport | None = None
) -> Workload:
    """An openb pod list as timed jobs on the openb GPU cluster (``openb_cluster`` columns).

    Each GPU pod is a job: arrival = ``creation_time``, duration = ``deletion_time -
    creation_time`` (so it includes any time the pod waited in the real cluster),
    ``gpus = num_gpu``, throughput 1 step/s on every GPU model ``gpu_spec`` allows (all models
    when empty) and 0 elsewhere, ``total_steps`` = duration. A model with fewer GPUs in the
    cluster than the pod's gang also gets 0 (the gang could never start there). The project is
    the pod's ``qos`` class when the file has one; ``job_type`` is the pod name.

    Counted in ``report``: fractional pods (``gpu_milli < 1000``) run on 1 whole GPU (the round
    simulator has no GPU sharing); skipped: CPU-only pods, pods with no deletion time (their
    duration is unknown), pods deleted the second they were created (zero work) and pods no
    allowed model can hold. Ties in creation time keep file order. The ``multigpu*`` workloads
    have no times and are refused.
    """
    if workload_name not in openb.WORKLOADS:
        known = ", ".join(openb.WORKLOADS)
        raise WorkloadError(f"unknown openb workload {workload_name!r}; known: {known}")
    models, capacity = openb_cluster(trace_dir)
    column = {m: k for k, m in enumerate(models)}
    path = trace_dir / f"openb_pod_list_{workload_name}.csv"
    required = ("name", "num_gpu", "gpu_milli", "creation_time", "deletion_time")
    try:
        rows = openb.read_rows(path, required)
    except openb.TraceError as exc:
        raise WorkloadError(f"{exc} (openb_timed needs pod creation and deletion times)") from None
    skipped: Counter[str] = Counter()
    fractional = 0
    jobs: list[tuple[int, str, int, int, list[int], str, float, float]] = []
    for where, row in rows:
        num_gpu = _whole(row, "num_gpu", where)
        creation = _whole(row, "creation_time", where)
        if num_gpu <= 0:
            skipped[CPU_ONLY] += 1
            continue
        if not (row.get("deletion_time") or "").strip():
            skipped[NO_DELETION] += 1
            continue
        duration = _whole(row, "deletion_time", where) - creation
        if duration < 0:
            raise WorkloadError(f"{where}: [deletion_time] before creation_time")
        if duration == 0:
            skipped[ZERO_DURATION] += 1
            continue
        allowed = {m for m in (row.get("gpu_spec") or "").strip().split("|") if m} or set(models)
        usable = sorted(
            column[m] for m in allowed if m in column and capacity[column[m]] >= num_gpu
        )
        if not usable:
            skipped[NO_MODEL] += 1
            continue
        fractional += _whole(row, "gpu_milli", where) < MILLI_PER_GPU
        qos = (row.get("qos") or "").strip() or "default"
        cpu = float(_whole(row, "cpu_milli", where)) if row.get("cpu_milli") else 0.0
        memory = float(_whole(row, "memory_mib", where)) if row.get("memory_mib") else 0.0
        jobs.append((creation, row["name"], num_gpu, duration, usable, qos, cpu, memory))
    jobs.sort(key=lambda job: job[0])  # stable: file order within a second
    throughput = np.zeros((len(jobs), len(models)))
    for i, job in enumerate(jobs):
        throughput[i, job[4]] = 1.0
    projects = tuple(sorted({job[5] for job in jobs})) or ("default",)
    index = {p: k for k, p in enumerate(projects)}
    if report is not None:
        report.skipped.update(skipped)
        if fractional:
            report.adjusted[FRACTIONAL] += fractional
    _count(report, len(jobs))
    return Workload(
        job_id=np.arange(len(jobs), dtype=np.int64),
        gpus=np.array([j[2] for j in jobs], dtype=np.int64),
        throughput=throughput,
        total_steps=np.array([j[3] for j in jobs], dtype=np.float64),
        arrival_s=np.array([j[0] for j in jobs], dtype=np.float64),
        project=np.array([index[j[5]] for j in jobs], dtype=np.int64),
        projects=projects,
        job_type=tuple(j[1] for j in jobs),
        cpu_milli=np.array([j[6] for j in jobs], dtype=np.float64),
        memory_mib=np.array([j[7] for j in jobs], dtype=np.float64),
    )


def openb_cpu_memory(trace_dir: Path) -> tuple[float, float]:
    """The openb GPU nodes' total CPU (milli-cores) and memory (MiB): what ``fair-share``'s
    DRF counts beside GPUs."""
    nodes = [n for n in openb.read_nodes(trace_dir / openb.NODE_FILE) if n.gpus > 0]
    return float(sum(n.cpu_milli for n in nodes)), float(sum(n.memory_mib for n in nodes))


# ------------------------------------------------------------------------------------ Poisson


def philly_duration_s(rng: np.random.Generator, size: int) -> Float:
    """Gavel's ``_generate_duration``: 60 * 10**x seconds (10**x minutes), x ~ U[1.5, 3] with
    probability 0.8, else x ~ U[3, 4] — from about 31.6 minutes to about 166.7 hours."""
    short = rng.random(size) < 0.8
    x = np.where(short, rng.uniform(1.5, 3.0, size), rng.uniform(3.0, 4.0, size))
    return np.asarray(60.0 * 10.0**x, dtype=np.float64)


def poisson(
    rate_per_h: float,
    jobs: int,
    table: ThroughputTable,
    seed: int,
    *,
    scale_factors: Mapping[int, float] | None = None,
    projects: Sequence[str] = ("default",),
    report: BuildReport | None = None,
) -> Workload:
    """``jobs`` jobs arriving as a Poisson process of ``rate_per_h`` jobs per hour, after
    Gavel's ``generate_job`` (``scheduler/utils.py``).

    The first job arrives at 0, then gaps are exponential with mean ``3600 / rate_per_h`` s.
    Scale factors are drawn from ``scale_factors`` ({GPUs: probability}; all 1 when ``None``;
    ``PHILLY_SCALE_FACTORS`` is Gavel's). The job type is uniform over the table's types
    measured at the drawn scale (scale 1: every type; larger: the distributed ones, as Gavel
    redraws until the template is distributed). Duration: ``philly_duration_s``.
    ``total_steps`` = duration x the V100 throughput at that scale, so a job alone on V100s
    takes exactly its duration. Projects are drawn uniformly. Seeded by ``seed`` alone
    (NumPy's PCG64), so the same arguments give the same workload; Gavel's own draws
    (Python's ``random``) are not reproduced.
    """
    if not (math.isfinite(rate_per_h) and rate_per_h > 0) or jobs < 1 or seed < 0:
        raise WorkloadError(
            f"need a finite rate_per_h > 0, jobs >= 1 and seed >= 0; "
            f"got {rate_per_h}, {jobs} and {seed}"
        )
    if not projects:
        raise WorkloadError("need at least one project")
    distribution = dict(scale_factors or {1: 1.0})
    sizes = sorted(distribution)
    weights = np.array([distribution[s] for s in sizes], dtype=np.float64)
    if sizes[0] < 1 or (weights < 0).any() or not np.isclose(weights.sum(), 1.0):
        raise WorkloadError(
            f"scale factors must be >= 1 with probabilities summing to 1: {distribution}"
        )
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(3600.0 / rate_per_h, jobs)
    arrival = np.concatenate([[0.0], np.cumsum(gaps[:-1])])
    scale = np.asarray(sizes, dtype=np.int64)[rng.choice(len(sizes), size=jobs, p=weights)]
    duration = philly_duration_s(rng, jobs)
    types: list[str] = [""] * jobs
    for size in sizes:
        rows = np.flatnonzero(scale == size)
        candidates = sorted(t for t, s in table.rates if s == size)
        if rows.size and not candidates:
            raise WorkloadError(f"no job type in the table is measured at scale {size}")
        for row, pick in zip(
            rows.tolist(), rng.integers(0, max(len(candidates), 1), rows.size), strict=True
        ):
            types[row] = candidates[int(pick)]
    throughput = gavel_throughputs(types, scale.tolist(), table)
    project = rng.integers(0, len(projects), jobs)
    _count(report, jobs)
    return Workload(
        job_id=np.arange(jobs, dtype=np.int64),
        gpus=scale,
        throughput=throughput,
        total_steps=duration * throughput[:, GAVEL_TYPES.index("v100")],
        arrival_s=arrival,
        project=project.astype(np.int64),
        projects=tuple(projects),
        job_type=tuple(types),
    )


# ----------------------------------------------------------------------------- names to parse


def poisson_failures(
    capacity: Sequence[int], *, per_gpu_day: float, repair_s: float, until_s: float, seed: int
) -> list[Failure]:
    """GPU failures as a Poisson process: each GPU fails ``per_gpu_day`` times a day on average
    (so type ``w`` fails at ``capacity[w] * per_gpu_day`` per day), one GPU at a time, out for
    ``repair_s``; from 0 to ``until_s``. Seeded."""
    if per_gpu_day < 0 or repair_s < 0:
        msg = "failure rate and repair time must be >= 0"
        raise WorkloadError(msg)
    rng = np.random.default_rng(seed)
    out: list[Failure] = []
    for kind, gpus in enumerate(capacity):
        rate_s = gpus * per_gpu_day / 86_400.0
        if rate_s <= 0:
            continue
        at = float(rng.exponential(1 / rate_s))
        while at < until_s:
            out.append(Failure(at_s=at, gpu_type=kind, gpus=1, repair_s=repair_s))
            at += float(rng.exponential(1 / rate_s))
    return sorted(out, key=lambda f: (f.at_s, f.gpu_type))
