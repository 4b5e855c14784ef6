"""Readers for Gavel's data (Narayanan et al., OSDI'20; ``stanford-futuredata/gavel``, MIT).

* ``simulation_throughputs.json``: steps per second of each (job type, scale factor) alone on
  one GPU type — ``data[gpu]["('ResNet-18 (batch size 64)', 1)"]["null"]``. GPU types ``k80``,
  ``p100``, ``v100`` (the ``*_unconsolidated`` variants are for multi-server placements).
* The continuous-single job lists Gavel's simulator generates (``generated/continuous_single_
  seed0_<rate>jobs_per_h.tsv``): ``job_id, job_type, scale_factor, total_steps,
  arrival_time_s, duration_v100_s, duration_p100_s, duration_k80_s``.
* The Philly-derived per-virtual-cluster traces (``seed=N/<vc>.trace``): 7 tab-separated fields
  — job type, command, steps argument, needs-data-dir flag, total steps, arrival time (s), scale
  factor.
* Gavel's own per-job results (``results/gavel/jct_<policy>_<rate>_s4000_e5000_seed0.tsv``).

Every problem names the file and line.
"""

from __future__ import annotations

import ast
import csv
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

GPU_TYPES = ("v100", "p100", "k80")
"""Gavel's GPU types, fastest first (the order Gavel's simulator lists workers in)."""


class GavelTraceError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ThroughputTable:
    """Steps per second of each (job type, scale factor) alone on one GPU of each type."""

    rates: Mapping[tuple[str, int], Mapping[str, float]]

    def of(self, job_type: str, scale: int, where: str = "") -> dict[str, float]:
        try:
            return dict(self.rates[(job_type, scale)])
        except KeyError:
            msg = (
                f"{where}: no throughput for ({job_type!r}, {scale})"
                if where
                else (f"no throughput for ({job_type!r}, {scale})")
            )
            raise GavelTraceError(msg) from None


def read_throughputs(path: Path) -> ThroughputTable:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GavelTraceError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise GavelTraceError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    rates: dict[tuple[str, int], dict[str, float]] = {}
    for gpu in GPU_TYPES:
        if gpu not in data:
            raise GavelTraceError(f"{path}: no {gpu!r} section")
        for key, value in data[gpu].items():
            try:
                job_type, scale = ast.literal_eval(key)
                rate = float(value["null"])
            except (ValueError, SyntaxError, TypeError, KeyError):
                raise GavelTraceError(f"{path}: [{gpu}] bad entry {key!r}") from None
            rates.setdefault((str(job_type), int(scale)), {})[gpu] = rate
    return ThroughputTable(rates)


@dataclass(frozen=True, slots=True)
class JobList:
    """Jobs as parallel arrays (index = position in the file)."""

    job_id: NDArray[np.int64]
    job_type: tuple[str, ...]
    scale: NDArray[np.int64]
    total_steps: NDArray[np.float64]
    arrival_s: NDArray[np.float64]
    source: str

    def __len__(self) -> int:
        return int(self.job_id.size)


_GENERATED_COLUMNS = ("job_id", "job_type", "scale_factor", "total_steps", "arrival_time_s")


def read_generated_jobs(path: Path) -> JobList:
    """A continuous-single job list Gavel's simulator generated."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise GavelTraceError(f"{path}: cannot read: {exc.strerror}") from None
    ids: list[int] = []
    types: list[str] = []
    scales: list[int] = []
    steps: list[float] = []
    arrivals: list[float] = []
    with handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = [c for c in _GENERATED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise GavelTraceError(f"{path}:1: missing column(s) {', '.join(missing)}")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            try:
                ids.append(int(row["job_id"]))
                scales.append(int(row["scale_factor"]))
                steps.append(float(row["total_steps"]))
                arrivals.append(float(row["arrival_time_s"]))
            except (TypeError, ValueError):
                raise GavelTraceError(f"{where}: a number column is not a number") from None
            types.append(row["job_type"])
    return _job_list(path, ids=ids, types=types, scales=scales, steps=steps, arrivals=arrivals)


def read_vc_trace(path: Path) -> JobList:
    """A Philly-derived per-virtual-cluster trace (7 tab-separated fields, no header)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GavelTraceError(f"{path}: cannot read: {exc.strerror}") from None
    ids: list[int] = []
    types: list[str] = []
    scales: list[int] = []
    steps: list[float] = []
    arrivals: list[float] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 7:
            raise GavelTraceError(f"{path}:{number}: {len(fields)} fields, expected 7")
        try:
            steps.append(float(fields[4]))
            arrivals.append(float(fields[5]))
            scales.append(int(fields[6]))
        except ValueError:
            raise GavelTraceError(
                f"{path}:{number}: steps, arrival or scale not a number"
            ) from None
        ids.append(len(ids))
        types.append(fields[0])
    return _job_list(path, ids=ids, types=types, scales=scales, steps=steps, arrivals=arrivals)


def _job_list(
    path: Path,
    *,
    ids: list[int],
    types: list[str],
    scales: list[int],
    steps: list[float],
    arrivals: list[float],
) -> JobList:
    arrival = np.array(arrivals, dtype=np.float64)
    if arrival.size and (np.diff(arrival) < 0).any():
        raise GavelTraceError(f"{path}: arrival times are not in order")
    return JobList(
        job_id=np.array(ids, dtype=np.int64),
        job_type=tuple(types),
        scale=np.array(scales, dtype=np.int64),
        total_steps=np.array(steps, dtype=np.float64),
        arrival_s=arrival,
        source=str(path),
    )


def throughput_matrix(jobs: JobList, table: ThroughputTable) -> NDArray[np.float64]:
    """(jobs, GPU types in ``GPU_TYPES`` order): steps per second of each job alone."""
    out = np.empty((len(jobs), len(GPU_TYPES)))
    cache: dict[tuple[str, int], list[float]] = {}
    for i, (job_type, scale) in enumerate(zip(jobs.job_type, jobs.scale.tolist(), strict=True)):
        key = (job_type, scale)
        if key not in cache:
            rates = table.of(job_type, scale, f"{jobs.source}: job {i}")
            cache[key] = [rates[g] for g in GPU_TYPES]
        out[i] = cache[key]
    return out


def read_gavel_jcts(path: Path) -> dict[int, float]:
    """Gavel's own per-job completion times (``job_id, jct_s``)."""
    try:
        rows = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GavelTraceError(f"{path}: cannot read: {exc.strerror}") from None
    out: dict[int, float] = {}
    for number, line in enumerate(rows[1:], 2):
        parts = line.split("\t")
        try:
            out[int(parts[0])] = float(parts[1])
        except (ValueError, IndexError):
            raise GavelTraceError(f"{path}:{number}: expected job_id<TAB>jct_s") from None
    return out


_RESULT_NAME = re.compile(
    r"jct_(?P<policy>.+)_(?P<rate>[0-9.]+)jobs_per_h_s(?P<start>\d+)_e(?P<end>\d+)_seed(?P<seed>\d+)\.tsv"
)


def parse_result_name(name: str) -> dict[str, str] | None:
    """``jct_fifo_perf_2.8jobs_per_h_s4000_e5000_seed0.tsv`` -> policy, rate, window, seed."""
    match = _RESULT_NAME.fullmatch(name)
    return None if match is None else match.groupdict()
