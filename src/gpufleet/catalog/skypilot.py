"""Read SkyPilot-format ``vms.csv`` price catalogs into ``Offer`` objects.

Columns are read by header name (their order differs per provider). Every quirk listed in
``../shared/data/catalog/README.md`` is handled, the per-provider tables living in
``skypilot_quirks``: GCP's separate GPU price rows are added to their host VM rows; ``GpuInfo``
is read in any of its forms; memory units are interpreted per provider; placeholder prices (TPU
700.0, spot 0.00, spot copied from on-demand) are treated as missing; known wrong GPU counts are
corrected (Azure ND96isr_H100_v5: 8, not 12); rows with no price at all are skipped and counted.

A malformed row becomes a ``Problem`` naming file, line and column; an unknown GPU name becomes
an ``UNKNOWN_GPU`` problem. Neither is ever dropped silently.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gpufleet.catalog import skypilot_quirks as quirks
from gpufleet.catalog.gpuinfo import GpuInfo, GpuInfoError, parse_gpu_info
from gpufleet.catalog.gpus import GpuTable
from gpufleet.catalog.problems import CatalogError, LoadReport, Problem, ProblemKind
from gpufleet.domain.offer import ContractKind, Offer

REQUIRED_COLUMNS = ("InstanceType", "AcceleratorName", "AcceleratorCount", "Price", "Region")


class _RowError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    instance_type: str
    accelerator: str
    count: float | None
    vcpus: float | None
    memory_gib: float | None
    info: GpuInfo | None
    price: float | None
    spot: float | None
    region: str | None
    zone: str | None


def supplier_from_path(path: Path) -> str:
    """``aws_vms_partial.csv`` -> ``aws``; SkyPilot's ``catalogs/v8/aws/vms.csv`` -> ``aws``."""
    if path.stem == "vms":
        return path.parent.name.lower()
    return path.stem.split("_")[0].lower()


def _number(raw: Mapping[str, str | None], column: str) -> float | None:
    text = (raw.get(column) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise _RowError(column, f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise _RowError(column, f"must be a finite number >= 0, got {text!r}")
    return value


def _parse_row(raw: Mapping[str, str | None], line: int) -> _Row:
    try:
        info = parse_gpu_info(raw.get("GpuInfo") or "")
    except GpuInfoError as exc:
        raise _RowError("GpuInfo", str(exc)) from None
    return _Row(
        line=line,
        instance_type=(raw.get("InstanceType") or "").strip(),
        accelerator=(raw.get("AcceleratorName") or "").strip(),
        count=_number(raw, "AcceleratorCount"),
        vcpus=_number(raw, "vCPUs"),
        memory_gib=_number(raw, "MemoryGiB"),
        info=info,
        price=_number(raw, "Price"),
        spot=_number(raw, "SpotPrice"),
        region=(raw.get("Region") or "").strip() or None,
        zone=(raw.get("AvailabilityZone") or "").strip() or None,
    )


class _FileReader:
    """Turns the rows of one file into offers, recording problems and skips in ``report``."""

    def __init__(self, path: Path, supplier: str, table: GpuTable, report: LoadReport) -> None:
        self.path = path
        self.supplier = supplier
        self.table = table
        self.report = report
        self.offers: list[Offer] = []
        self.gcp_hosts: list[tuple[_Row, str, int]] = []
        self.gcp_gpus: dict[tuple[str | None, str | None, str, int], _Row] = {}

    def problem(self, line: int, column: str | None, message: str, kind: ProblemKind) -> None:
        self.report.problem(Problem(str(self.path), line, column, message, kind))

    def skip(self, reason: str) -> None:
        self.report.skipped[f"{self.supplier}: {reason}"] += 1

    def read(self, rows: Iterable[tuple[int, Mapping[str, str | None]]]) -> list[Offer]:
        for line, raw in rows:
            try:
                row = _parse_row(raw, line)
            except _RowError as exc:
                self.problem(line, exc.column, str(exc), ProblemKind.MALFORMED)
                continue
            self.take(row)
        self.join_gcp()
        return self.offers

    def take(self, row: _Row) -> None:
        key = (self.supplier, row.instance_type)
        if not row.accelerator:
            unnamed = quirks.UNNAMED_GPUS.get(key)
            if unnamed is not None:
                self.report.adjusted[f"{self.supplier}: GPU named from instance type"] += 1
                self.emit(row, unnamed.gpu, unnamed.gpus)
                return
            if self.supplier == "gcp" and (host := quirks.gcp_host_accelerator(row.instance_type)):
                self.gcp_hosts.append((row, *host))
                return
            pattern = quirks.GPU_SKU_PATTERNS.get(self.supplier)
            if pattern is not None and pattern.match(row.instance_type):
                message = f"GPU instance type {row.instance_type} has no AcceleratorName"
                self.problem(row.line, "AcceleratorName", message, ProblemKind.UNKNOWN_GPU)
                return
            self.skip("CPU-only instance")
            return
        if quirks.NON_GPU_ACCELERATORS.match(row.accelerator):
            self.skip(f"not a GPU ({row.accelerator})")
            return
        if row.count is None or row.count <= 0:
            message = f"must be > 0 for accelerator {row.accelerator}, got {row.count}"
            self.problem(row.line, "AcceleratorCount", message, ProblemKind.MALFORMED)
            return
        if self.supplier == "gcp" and not row.instance_type:
            self.gcp_gpus[(row.region, row.zone, row.accelerator, round(row.count))] = row
            return
        count = row.count
        fix = quirks.GPU_COUNT_FIXES.get(key)
        if fix is not None and fix.gpus != count:
            self.report.adjusted[f"{self.supplier}: GPU count corrected ({fix.reason})"] += 1
            count = fix.gpus
        self.emit(row, row.accelerator, count)

    def join_gcp(self) -> None:
        used: set[tuple[str | None, str | None, str, int]] = set()
        for host, accelerator, count in self.gcp_hosts:
            key = (host.region, host.zone, accelerator, count)
            gpu = self.gcp_gpus.get(key)
            if gpu is None:
                self.skip("host VM without a GPU price row")
                continue
            used.add(key)
            price = _sum(host.price, _real_price(gpu.price))
            spot = _sum(host.spot, gpu.spot)
            self.report.adjusted[f"{self.supplier}: host VM and GPU price rows added"] += 1
            joined = _Row(
                line=host.line,
                instance_type=host.instance_type,
                accelerator=accelerator,
                count=float(count),
                vcpus=host.vcpus,
                memory_gib=host.memory_gib,
                info=gpu.info,
                price=price,
                spot=spot,
                region=host.region,
                zone=host.zone,
            )
            self.emit(joined, accelerator, float(count))
        unused = len(self.gcp_gpus) - len(used)
        if unused:
            self.report.skipped[f"{self.supplier}: GPU price row without a host VM row"] += unused

    def resolve_gpu(self, row: _Row, name: str, gpus: float) -> str | None:
        for pattern, gpu in quirks.GPU_NAME_OVERRIDES.get(self.supplier, ()):
            if pattern.match(row.instance_type):
                return gpu
        model = self.table.resolve(name)
        if model is None:
            suggestions = self.table.suggest(name)
            hint = f" (closest: {', '.join(suggestions)})" if suggestions else ""
            message = f"unknown GPU model {name!r}{hint}"
            self.problem(row.line, "AcceleratorName", message, ProblemKind.UNKNOWN_GPU)
            return None
        hints = f"{row.instance_type} {row.info.name if row.info and row.info.name else ''}"
        memory = quirks.per_gpu_memory_gib(self.supplier, row.info, gpus)
        return self.table.refine(model, name=name, hints=hints, memory_gib=memory).id

    def emit(self, row: _Row, name: str, gpus: float) -> None:
        price = _real_price(row.price)
        if price is None and row.price is not None:
            self.report.adjusted[f"{self.supplier}: placeholder price ignored"] += 1
        spot = row.spot
        if spot is not None and spot == 0 and quirks.SPOT_ZERO_IS_PLACEHOLDER:
            spot = None
        if (
            spot is not None
            and spot == price
            and self.supplier in quirks.SPOT_EQUALS_PRICE_IS_PLACEHOLDER
        ):
            self.report.adjusted[f"{self.supplier}: spot price equal to on-demand ignored"] += 1
            spot = None
        if price is None and spot is None:
            self.skip("no price listed")
            return
        gpu = self.resolve_gpu(row, name, gpus)
        if gpu is None:
            return
        try:
            offer = Offer(
                supplier=self.supplier,
                instance_type=row.instance_type,
                gpu=gpu,
                gpus_per_unit=gpus,
                contract=ContractKind.ON_DEMAND if price is not None else ContractKind.SPOT,
                price_usd_per_hour=price,
                spot_price_usd_per_hour=spot,
                region=row.region,
                zone=row.zone,
                vcpus=row.vcpus,
                memory_gib=row.memory_gib,
                source=f"{self.path}:{row.line}",
            )
        except ValueError as exc:
            self.problem(row.line, None, str(exc), ProblemKind.MALFORMED)
            return
        self.offers.append(offer)


def _real_price(price: float | None) -> float | None:
    return None if price is None or price in quirks.PLACEHOLDER_PRICES else price


def _sum(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def load_vms_csv(
    path: Path,
    table: GpuTable,
    report: LoadReport,
    *,
    supplier: str | None = None,
) -> list[Offer]:
    """Offers from one ``vms.csv`` file; problems and skips are recorded in ``report``."""
    supplier = supplier or supplier_from_path(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise CatalogError(Problem(str(path), None, None, f"cannot read: {exc.strerror}")) from None
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            message = f"missing column(s) {', '.join(missing)}; header is {','.join(header)}"
            report.problem(Problem(str(path), 1, missing[0], message))
            return []
        report.files.append(str(path))
        rows = ((reader.line_num, raw) for raw in reader)
        offers = _FileReader(path, supplier, table, report).read(rows)
    report.offers += len(offers)
    return offers


def catalog_files(directory: Path) -> list[Path]:
    """The ``vms.csv`` files in a directory: ``*vms*.csv`` directly in it, or ``*/vms.csv``."""
    files = sorted(directory.glob("*vms*.csv")) + sorted(directory.glob("*/vms.csv"))
    return [f for f in files if f.is_file()]
