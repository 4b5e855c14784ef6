"""Parse SkyPilot's ``GpuInfo`` column, whatever form a provider wrote it in.

Forms seen in the catalog (see ``../shared/data/catalog/README.md``):

* a Python dict literal with single quotes (most providers), sometimes with JSON's ``null``;
* JSON with double quotes (Verda, Spheron, PrimeIntellect);
* GCP's minimal ``{'Gpus': [{'MemoryInfo': {...}}]}`` with no name or count;
* the plain accelerator name (Azure; GCP TPUs);
* ``TotalGpuMemoryInMiB`` at the top level or inside the ``Gpus`` list (Lium, Spheron);
* ``Count`` as a number or a string such as ``'1.0'`` (Cudo).

Memory *units* are not decided here: a parsed value is what the provider wrote, and
``skypilot_quirks.per_gpu_memory_gib`` interprets it per provider.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class GpuInfo:
    name: str | None = None
    count: float | None = None
    memory_mib: float | None = None
    """The per-GPU ``MemoryInfo.SizeInMiB`` field, as written (units vary by provider)."""
    total_memory_mib: float | None = None


class GpuInfoError(ValueError):
    pass


_NULL = re.compile(r"\bnull\b")


def _as_number(value: object, what: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        msg = f"{what} must be a number, got {value!r}"
        raise GpuInfoError(msg)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    msg = f"{what} must be a number, got {value!r}"
    raise GpuInfoError(msg)


def _load_mapping(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        try:
            value = ast.literal_eval(_NULL.sub("None", text))
        except (ValueError, SyntaxError) as exc:
            msg = f"not a Python dict or JSON object: {exc}"
            raise GpuInfoError(msg) from None
    if not isinstance(value, dict):
        msg = f"expected a dict, got {type(value).__name__}"
        raise GpuInfoError(msg)
    return value


def parse_gpu_info(text: str) -> GpuInfo | None:
    """Parse one ``GpuInfo`` cell; ``None`` when the cell is empty."""
    text = text.strip()
    if not text:
        return None
    if not text.startswith("{"):
        return GpuInfo(name=text)
    data = _load_mapping(text)
    gpus = data.get("Gpus")
    if gpus is None:
        gpus = []
    if not isinstance(gpus, list) or not all(isinstance(g, dict) for g in gpus):
        msg = "'Gpus' must be a list of dicts"
        raise GpuInfoError(msg)
    first: dict[str, Any] = gpus[0] if gpus else {}
    memory = first.get("MemoryInfo") or {}
    if not isinstance(memory, dict):
        msg = "'MemoryInfo' must be a dict"
        raise GpuInfoError(msg)
    total = data.get("TotalGpuMemoryInMiB", first.get("TotalGpuMemoryInMiB"))
    name = first.get("Name")
    return GpuInfo(
        name=None if name is None else str(name),
        count=_as_number(first.get("Count"), "Count"),
        memory_mib=_as_number(memory.get("SizeInMiB"), "MemoryInfo.SizeInMiB"),
        total_memory_mib=_as_number(total, "TotalGpuMemoryInMiB"),
    )
