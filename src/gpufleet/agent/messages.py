"""The agent's side of the ``/agent/*`` wire format (``docs/api.md``): bodies it sends, the
assignments it receives.

Bodies are plain JSON-ready dicts built from the agent's own types, so the HTTP client stays
thin and the format is visible in one place. ``parse_assignments`` accepts exactly what the
contract promises (``start``, ``stop``, ``heartbeat_s``, ``acceptance``; a missing list means
none, a missing or null ``acceptance`` no test) and raises ``MessageError`` naming the field for
anything else; ``parse_verdict`` reads the ``AcceptanceVerdict`` answering an acceptance report
as strictly. Job ids are passed through as the server sent them (int or str) and sent back
unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gpufleet.agent.gpu_source import GpuInfo, GpuTelemetry
from gpufleet.agent.runner import JobId
from gpufleet.domain.acceptance import GpuCheck, check_to_json


class MessageError(ValueError):
    """A server response that does not follow the contract; the message names the field."""


@dataclass(frozen=True, slots=True)
class HostInfo:
    """What the node offers besides GPUs."""

    cpu_count: int
    memory_gib: float


@dataclass(frozen=True, slots=True)
class JobStart:
    """``JobStart{job, command, gpu_indices, env}``: a job the server wants started here."""

    job: JobId
    command: tuple[str, ...]
    gpu_indices: tuple[int, ...]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AcceptanceGpu:
    """One GPU to test, with the model (canonical id) and memory the order promised."""

    index: int
    model: str
    memory_gib: float | None


@dataclass(frozen=True, slots=True)
class AcceptanceRequest:
    """``AcceptanceRequest{test, burn_in_s, gpus}``: run acceptance test ``test`` once."""

    test: int
    burn_in_s: float
    gpus: tuple[AcceptanceGpu, ...]


@dataclass(frozen=True, slots=True)
class Assignments:
    """``Assignments{start, stop, heartbeat_s, acceptance}``: the answer to a heartbeat."""

    start: tuple[JobStart, ...] = ()
    stop: tuple[JobId, ...] = ()
    heartbeat_s: float | None = None
    acceptance: AcceptanceRequest | None = None


@dataclass(frozen=True, slots=True)
class GpuVerdict:
    """``{index, passed, reasons}``: the server's judgement of one tested GPU."""

    index: int
    passed: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AcceptanceVerdict:
    """``AcceptanceVerdict{test, node_state, gpus}``: the answer to an acceptance report."""

    test: int
    node_state: str
    gpus: tuple[GpuVerdict, ...]


def register_body(
    name: str, gpus: Iterable[GpuInfo], *, simulated: bool, host: HostInfo
) -> dict[str, Any]:
    """``NodeRegister{name, gpus: [{index, model, memory_gib, uuid}], simulated, cpu_count,
    memory_gib}``."""
    return {
        "name": name,
        "gpus": [
            {"index": g.index, "model": g.model, "memory_gib": g.memory_gib, "uuid": g.uuid}
            for g in gpus
        ],
        "simulated": simulated,
        "cpu_count": host.cpu_count,
        "memory_gib": host.memory_gib,
    }


def heartbeat_body(
    node: str,
    telemetry: Iterable[GpuTelemetry],
    running: Iterable[JobId],
    *,
    error_counters: bool = False,
) -> dict[str, Any]:
    """``Heartbeat{node, telemetry: [{index, utilisation_pct, memory_used_gib, temperature_c,
    power_w}], running}``; with ``error_counters`` each sample also carries ``ecc_errors``,
    ``xid_errors`` and ``last_xid`` (not in the v1 contract, so off unless asked for)."""
    samples = []
    for t in telemetry:
        sample: dict[str, Any] = {
            "index": t.index,
            "utilisation_pct": t.utilisation_pct,
            "memory_used_gib": t.memory_used_gib,
            "temperature_c": t.temperature_c,
            "power_w": t.power_w,
        }
        if error_counters:
            sample["ecc_errors"] = t.ecc_errors
            sample["xid_errors"] = t.xid_errors
            sample["last_xid"] = t.last_xid
        samples.append(sample)
    return {"node": node, "telemetry": samples, "running": list(running)}


def acceptance_body(node: str, checks: Iterable[GpuCheck]) -> dict[str, Any]:
    """``AcceptanceReport{node, results: [GpuCheck]}``."""
    return {"node": node, "results": [check_to_json(c) for c in checks]}


def parse_assignments(data: object) -> Assignments:
    """Read an ``Assignments`` response; ``MessageError`` names the first bad field."""
    if not isinstance(data, Mapping):
        raise MessageError(f"Assignments: expected an object, got {type(data).__name__}")
    starts = tuple(_job_start(item, f"start[{i}]") for i, item in enumerate(_list(data, "start")))
    stops = tuple(_job_id(item, f"stop[{i}]") for i, item in enumerate(_list(data, "stop")))
    heartbeat_s = data.get("heartbeat_s")
    if heartbeat_s is not None:
        if isinstance(heartbeat_s, bool) or not isinstance(heartbeat_s, int | float):
            raise MessageError(f"Assignments.heartbeat_s: expected a number, got {heartbeat_s!r}")
        if not math.isfinite(heartbeat_s) or heartbeat_s <= 0:
            raise MessageError(f"Assignments.heartbeat_s: must be > 0, got {heartbeat_s!r}")
        heartbeat_s = float(heartbeat_s)
    acceptance = _acceptance(data.get("acceptance"), "Assignments.acceptance")
    return Assignments(start=starts, stop=stops, heartbeat_s=heartbeat_s, acceptance=acceptance)


def parse_verdict(data: object) -> AcceptanceVerdict:
    """Read an ``AcceptanceVerdict`` response; ``MessageError`` names the first bad field."""
    where = "AcceptanceVerdict"
    if not isinstance(data, Mapping):
        raise MessageError(f"{where}: expected an object, got {type(data).__name__}")
    state = data.get("node_state")
    if not isinstance(state, str):
        raise MessageError(f"{where}.node_state: expected a string, got {state!r}")
    gpus = data.get("gpus")
    if not isinstance(gpus, list):
        raise MessageError(f"{where}.gpus: expected a list, got {gpus!r}")
    verdicts = []
    for i, item in enumerate(gpus):
        at = f"{where}.gpus[{i}]"
        if not isinstance(item, Mapping):
            raise MessageError(f"{at}: expected an object, got {item!r}")
        passed = item.get("passed")
        if not isinstance(passed, bool):
            raise MessageError(f"{at}.passed: expected true or false, got {passed!r}")
        reasons = item.get("reasons", [])
        if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
            raise MessageError(f"{at}.reasons: expected a list of strings")
        verdicts.append(
            GpuVerdict(_index(item.get("index"), f"{at}.index"), passed, tuple(reasons))
        )
    return AcceptanceVerdict(_int(data.get("test"), f"{where}.test"), state, tuple(verdicts))


def _acceptance(value: object, where: str) -> AcceptanceRequest | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise MessageError(f"{where}: expected an object or null, got {value!r}")
    burn_in_s = value.get("burn_in_s")
    if isinstance(burn_in_s, bool) or not isinstance(burn_in_s, int | float):
        raise MessageError(f"{where}.burn_in_s: expected a number, got {burn_in_s!r}")
    if not math.isfinite(burn_in_s) or burn_in_s < 0:
        raise MessageError(f"{where}.burn_in_s: must be >= 0, got {burn_in_s!r}")
    items = value.get("gpus")
    if not isinstance(items, list) or not items:
        raise MessageError(f"{where}.gpus: expected a non-empty list, got {items!r}")
    gpus = tuple(_acceptance_gpu(item, f"{where}.gpus[{i}]") for i, item in enumerate(items))
    indices = [g.index for g in gpus]
    if len(set(indices)) != len(indices):
        raise MessageError(f"{where}.gpus: GPU indices repeat: {indices}")
    return AcceptanceRequest(_int(value.get("test"), f"{where}.test"), float(burn_in_s), gpus)


def _acceptance_gpu(item: object, where: str) -> AcceptanceGpu:
    if not isinstance(item, Mapping):
        raise MessageError(f"{where}: expected an object, got {item!r}")
    model = item.get("model")
    if not isinstance(model, str) or not model:
        raise MessageError(f"{where}.model: expected a GPU model id, got {model!r}")
    memory = item.get("memory_gib")
    if memory is not None and (
        isinstance(memory, bool) or not isinstance(memory, int | float) or not memory > 0
    ):
        raise MessageError(f"{where}.memory_gib: expected a positive number or null")
    return AcceptanceGpu(
        _index(item.get("index"), f"{where}.index"),
        model,
        None if memory is None else float(memory),
    )


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MessageError(f"{where}: expected an integer, got {value!r}")
    return value


def _index(value: object, where: str) -> int:
    index = _int(value, where)
    if index < 0:
        raise MessageError(f"{where}: expected a GPU index >= 0, got {index}")
    return index


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MessageError(f"Assignments.{key}: expected a list, got {value!r}")
    return value


def _job_id(value: object, where: str) -> JobId:
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise MessageError(f"Assignments.{where}: expected a job id, got {value!r}")
    return value


def _job_start(item: object, where: str) -> JobStart:
    if not isinstance(item, Mapping):
        raise MessageError(f"Assignments.{where}: expected an object, got {item!r}")
    command = item.get("command")
    if not isinstance(command, list) or not all(isinstance(c, str) for c in command):
        raise MessageError(f"Assignments.{where}.command: expected a list of strings")
    indices = item.get("gpu_indices", [])
    if not isinstance(indices, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indices
    ):
        raise MessageError(f"Assignments.{where}.gpu_indices: expected non-negative integers")
    env = item.get("env") or {}
    if not isinstance(env, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise MessageError(f"Assignments.{where}.env: expected an object of strings")
    return JobStart(
        job=_job_id(item.get("job"), f"{where}.job"),
        command=tuple(command),
        gpu_indices=tuple(indices),
        env=dict(env),
    )
