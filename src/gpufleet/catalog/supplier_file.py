"""Supplier files: private contracts and hand-written price lists in YAML (gpufleet-supplier/v1).

One file describes one supplier and its offers::

    format: gpufleet-supplier/v1
    supplier: example-colo              # id: lower case letters, digits, '-'
    display_name: Example Colocation
    kind: colocation                    # cloud | neocloud | marketplace | colocation | owned
    as_of: "2026-11-01"                 # when these prices were read or agreed
    source: "MSA 2026-17"               # where they come from
    offers:
      - gpu: H100-SXM                   # canonical id or any alias
        gpus_per_unit: 8
        contract: reserved              # on_demand | spot | reserved | owned
        price_usd_per_gpu_hour: 1.85    # or price_usd_per_hour (per unit); exactly one
        term_months: 12                 # required for reserved and owned
        lead_time_weeks: 6              # or lead_time_days
        min_units: 1
        capacity_units: 8

Optional offer keys: ``instance_type``, ``vcpus``, ``memory_gib``, ``region``, ``zone``,
``spot_price_usd_per_hour``, ``upfront_usd`` (reservation fee, or capex for owned hardware),
``source``, ``notes``. For ``spot`` offers the price given is the spot price. Unknown keys are
errors, so a typo never silently changes a price. Every problem names the file, line and key.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gpufleet.catalog import yaml_lines
from gpufleet.catalog.gpus import GpuTable
from gpufleet.catalog.problems import CatalogError, LoadReport, Problem, ProblemKind
from gpufleet.catalog.yaml_lines import LineMap as _Map
from gpufleet.domain.offer import ContractKind, Offer
from gpufleet.domain.supplier import Supplier, SupplierKind

FORMAT = "gpufleet-supplier/v1"
_TOP_KEYS = frozenset(
    {"format", "supplier", "display_name", "kind", "as_of", "source", "offers", "example", "notes"}
)
_OFFER_KEYS = frozenset(
    {
        "instance_type", "gpu", "gpus_per_unit", "vcpus", "memory_gib", "region", "zone",
        "contract", "price_usd_per_hour", "price_usd_per_gpu_hour", "spot_price_usd_per_hour",
        "term_months", "lead_time_days", "lead_time_weeks", "min_units", "capacity_units",
        "upfront_usd", "source", "notes",
    }
)  # fmt: skip
_SUPPLIER_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class _EntryError(ValueError):
    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(message)
        self.key = key


class _UnknownGpuError(_EntryError):
    pass


@dataclass(frozen=True, slots=True)
class SupplierFile:
    supplier: Supplier
    offers: tuple[Offer, ...]
    example: bool = False


def _number(entry: Mapping[str, Any], key: str, *, positive: bool = False) -> float | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _EntryError(key, f"must be a number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise _EntryError(key, f"must be {'> 0' if positive else '>= 0'}, got {value}")
    return float(value)


def _integer(entry: Mapping[str, Any], key: str) -> int | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _EntryError(key, f"must be a whole number, got {value!r}")
    return value


def _text(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str | int | float):
        raise _EntryError(key, f"must be text, got {type(value).__name__}")
    return str(value)


def _offer(entry: _Map, supplier: str, table: GpuTable, where: str) -> Offer:
    unknown = sorted(set(entry) - _OFFER_KEYS)
    if unknown:
        raise _EntryError(unknown[0], f"unknown key(s) {', '.join(unknown)}")
    for key in ("gpu", "gpus_per_unit", "contract"):
        if entry.get(key) is None:
            raise _EntryError(key, f"{key} is required")
    gpu_name = _text(entry, "gpu") or ""
    model = table.resolve(gpu_name)
    if model is None:
        hint = ", ".join(table.suggest(gpu_name))
        raise _UnknownGpuError(
            "gpu", f"unknown GPU model {gpu_name!r}" + (f" (closest: {hint})" if hint else "")
        )
    try:
        contract = ContractKind(str(entry["contract"]))
    except ValueError:
        choices = ", ".join(k.value for k in ContractKind)
        raise _EntryError(
            "contract", f"must be one of {choices}, got {entry['contract']!r}"
        ) from None
    gpus = _number(entry, "gpus_per_unit", positive=True) or 0.0
    per_unit = _number(entry, "price_usd_per_hour")
    per_gpu = _number(entry, "price_usd_per_gpu_hour")
    if (per_unit is None) == (per_gpu is None):
        raise _EntryError(
            "price_usd_per_hour", "give exactly one of price_usd_per_hour, price_usd_per_gpu_hour"
        )
    price: float | None = per_unit if per_unit is not None else (per_gpu or 0.0) * gpus
    spot = _number(entry, "spot_price_usd_per_hour")
    if contract is ContractKind.SPOT:
        if spot is not None:
            raise _EntryError("spot_price_usd_per_hour", "a spot offer gives its price once")
        price, spot = None, price
    days, weeks = _number(entry, "lead_time_days"), _number(entry, "lead_time_weeks")
    if days is not None and weeks is not None:
        raise _EntryError("lead_time_weeks", "give lead_time_days or lead_time_weeks, not both")
    min_units = _integer(entry, "min_units")
    try:
        return Offer(
            supplier=supplier,
            instance_type=_text(entry, "instance_type") or f"{model.id}x{gpus:g}",
            gpu=model.id,
            gpus_per_unit=gpus,
            contract=contract,
            price_usd_per_hour=price,
            spot_price_usd_per_hour=spot,
            region=_text(entry, "region"),
            zone=_text(entry, "zone"),
            vcpus=_number(entry, "vcpus"),
            memory_gib=_number(entry, "memory_gib"),
            term_months=_number(entry, "term_months"),
            lead_time_days=days if days is not None else (weeks or 0.0) * 7,
            min_units=1 if min_units is None else min_units,
            capacity_units=_integer(entry, "capacity_units"),
            upfront_usd=_number(entry, "upfront_usd") or 0.0,
            source=_text(entry, "source") or where,
        )
    except ValueError as exc:
        raise _EntryError(None, str(exc)) from None


def _header(document: _Map, path: Path) -> tuple[Supplier, bool]:
    def fail(key: str | None, message: str) -> CatalogError:
        line = document.key_lines.get(key, document.line) if key else document.line
        return CatalogError(Problem(str(path), line, key, message))

    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key(s) {', '.join(unknown)}")
    if document.get("format") != FORMAT:
        raise fail("format", f"must be {FORMAT!r}, got {document.get('format')!r}")
    supplier_id = document.get("supplier")
    if not isinstance(supplier_id, str) or not _SUPPLIER_ID.match(supplier_id):
        raise fail("supplier", f"must be an id like 'my-colo' ([a-z0-9-]), got {supplier_id!r}")
    try:
        kind = SupplierKind(str(document.get("kind", SupplierKind.UNKNOWN.value)))
    except ValueError:
        choices = ", ".join(k.value for k in SupplierKind)
        raise fail("kind", f"must be one of {choices}, got {document.get('kind')!r}") from None
    try:
        supplier = Supplier(
            id=supplier_id,
            display_name=_text(document, "display_name") or supplier_id,
            kind=kind,
            source=_text(document, "source"),
            as_of=_text(document, "as_of"),
        )
    except _EntryError as exc:
        raise fail(exc.key, str(exc)) from None
    if not isinstance(document.get("offers"), list):
        raise fail("offers", "offers must be a list of offer entries")
    return supplier, bool(document.get("example", False))


def load_supplier_file(
    path: Path, table: GpuTable, report: LoadReport, *, include_examples: bool = True
) -> SupplierFile | None:
    """Read one supplier file. A broken file header is a problem for the whole file.

    With ``include_examples=False`` a file marked ``example: true`` is recognised but its offers
    are not read (an empty ``SupplierFile`` with ``example`` set is returned).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(Problem(str(path), None, None, f"cannot read: {exc.strerror}")) from None
    try:
        document = yaml_lines.load(text)
    except yaml.YAMLError as exc:
        line, message = yaml_lines.error_line_and_message(exc)
        report.problem(Problem(str(path), line, None, message))
        return None
    if not isinstance(document, _Map):
        report.problem(Problem(str(path), 1, None, "a supplier file must be a YAML mapping"))
        return None
    try:
        supplier, example = _header(document, path)
    except CatalogError as exc:
        report.problem(exc.problem)
        return None
    if example and not include_examples:
        return SupplierFile(supplier, (), example=True)
    report.files.append(str(path))
    offers: list[Offer] = []
    for entry in document["offers"]:
        if not isinstance(entry, _Map):
            report.problem(
                Problem(str(path), document.key_lines["offers"], "offers", "not a mapping")
            )
            continue
        try:
            offers.append(_offer(entry, supplier.id, table, f"{path}:{entry.line}"))
        except _EntryError as exc:
            line = entry.key_lines.get(exc.key, entry.line) if exc.key else entry.line
            kind = (
                ProblemKind.UNKNOWN_GPU
                if isinstance(exc, _UnknownGpuError)
                else ProblemKind.MALFORMED
            )
            report.problem(Problem(str(path), line, exc.key, str(exc), kind))
    report.offers += len(offers)
    return SupplierFile(supplier, tuple(offers), example)


def supplier_files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
