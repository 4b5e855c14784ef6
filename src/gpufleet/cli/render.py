"""Rich tables and JSON documents for the CLI."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from gpufleet.catalog.problems import LoadReport
from gpufleet.catalog.query import OfferRow
from gpufleet.domain.gpu import GpuModel
from gpufleet.domain.offer import ContractKind


def _num(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "—" if value is None else fmt.format(value)


def gpu_table(models: list[GpuModel]) -> Table:
    table = Table(title="GPU models", title_justify="left", header_style="bold")
    for name, justify in (
        ("id", "left"),
        ("vendor", "left"),
        ("memory GiB", "right"),
        ("BF16 TFLOPS", "right"),
        ("FP16 TFLOPS", "right"),
        ("FP32 TFLOPS", "right"),
        ("mem BW GB/s", "right"),
        ("TDP W", "right"),
        ("interconnect", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for m in models:
        table.add_row(
            m.id if m.specs_disclosed else f"{m.id} (specs undisclosed)",
            m.vendor,
            _num(m.memory_gib),
            _num(m.bf16_tflops, "{:,.1f}"),
            _num(m.fp16_tflops, "{:,.1f}"),
            _num(m.fp32_tflops, "{:,.1f}"),
            _num(m.memory_bandwidth_gbps),
            _num(m.tdp_w),
            m.interconnect or "—",
        )
    table.caption = "Dense tensor throughput (no sparsity). Sources: `gpufleet gpus --json`."
    return table


def gpu_json(model: GpuModel) -> dict[str, Any]:
    return {
        "id": model.id,
        "vendor": model.vendor,
        "family": model.family,
        "name": model.name,
        "architecture": model.architecture,
        "form_factor": model.form_factor,
        "memory_gib": model.memory_gib,
        "memory_type": model.memory_type,
        "bf16_tflops": model.bf16_tflops,
        "fp16_tflops": model.fp16_tflops,
        "fp32_tflops": model.fp32_tflops,
        "memory_bandwidth_gbps": model.memory_bandwidth_gbps,
        "tdp_w": model.tdp_w,
        "interconnect": model.interconnect,
        "specs_disclosed": model.specs_disclosed,
        "aliases": list(model.aliases),
        "sources": list(model.sources),
        "notes": model.notes,
    }


def offer_json(row: OfferRow, *, spot: bool) -> dict[str, Any]:
    o = row.offer
    return {
        "supplier": o.supplier,
        "instance_type": o.instance_type,
        "gpu": o.gpu,
        "gpu_name": row.model.name,
        "gpus_per_unit": o.gpus_per_unit,
        "contract": o.contract.value,
        "region": o.region,
        "zone": o.zone,
        "regions": row.regions,
        "vcpus": o.vcpus,
        "memory_gib": o.memory_gib,
        "gpu_memory_gib": row.gpu_memory_gib,
        "price_kind": "spot" if spot else o.contract.value,
        "price_usd_per_hour": round(row.usd_per_hour, 6),
        "price_usd_per_gpu_hour": round(row.usd_per_gpu_hour, 6),
        "price_usd_per_tflop_hour": None
        if row.usd_per_tflop_hour is None
        else round(row.usd_per_tflop_hour, 8),
        "contract_price_usd_per_hour": o.price_usd_per_hour,
        "spot_price_usd_per_hour": o.spot_price_usd_per_hour,
        "term_months": o.term_months,
        "lead_time_days": o.lead_time_days,
        "min_units": o.min_units,
        "capacity_units": o.capacity_units,
        "upfront_usd": o.upfront_usd,
        "source": o.source,
    }


COMPACT_BELOW_COLUMNS = 140
"""Narrower terminals get the compact offer table: no host vCPU, RAM and GPU-memory columns."""


def offer_table(rows: list[OfferRow], *, spot: bool, collapsed: bool, width: int) -> Table:
    price = "spot " if spot else ""
    show_contract = any(r.offer.contract is not ContractKind.ON_DEMAND for r in rows)
    compact = width < COMPACT_BELOW_COLUMNS
    table = Table(header_style="bold", title_justify="left")
    table.add_column("GPU", no_wrap=True)
    table.add_column("GPUs", justify="right", no_wrap=True)
    table.add_column("supplier", no_wrap=True)
    table.add_column("instance", overflow="fold")
    table.add_column("region", overflow="fold")
    if show_contract:
        table.add_column("contract", overflow="fold")
    table.add_column(f"{price}$/h", justify="right", no_wrap=True)
    table.add_column(f"{price}$/GPU·h", justify="right", style="bold", no_wrap=True)
    table.add_column("$/PFLOP·h", justify="right", no_wrap=True)
    if not compact:
        table.add_column("GPU mem", justify="right", no_wrap=True)
        table.add_column("vCPUs", justify="right", no_wrap=True)
        table.add_column("RAM GiB", justify="right", no_wrap=True)
    for row in rows:
        o = row.offer
        region = o.zone or o.region or "—"
        if collapsed and row.regions > 1:
            region = f"{region} (+{row.regions - 1})"
        cells: list[str | Text] = [
            o.gpu,
            f"{o.gpus_per_unit:g}",
            o.supplier,
            o.instance_type,
            region,
        ]
        if show_contract:
            term = f" {o.term_months:g}mo" if o.term_months else ""
            cells.append(f"{o.contract.value}{term}")
        per_pflop = None if row.usd_per_tflop_hour is None else row.usd_per_tflop_hour * 1000
        cells += [
            f"{row.usd_per_hour:,.2f}",
            f"{row.usd_per_gpu_hour:,.3f}",
            _num(per_pflop, "{:.2f}"),
        ]
        if not compact:
            cells += [_num(row.gpu_memory_gib), _num(o.vcpus), _num(o.memory_gib)]
        table.add_row(*cells)
    table.caption = "$/PFLOP·h: per-GPU price over dense BF16 (else FP16) tensor PFLOPS." + (
        " Cheapest offer per (GPU, count, supplier); (+N): N more regions; --all lists them."
        if collapsed
        else ""
    )
    return table


def load_summary(report: LoadReport, sources: str, suppliers: int) -> str:
    lines = [f"Read {report.offers:,} offers from {suppliers} suppliers ({sources})."]
    if report.skipped:
        total = sum(report.skipped.values())
        lines.append(f"Skipped {total:,} rows on purpose (CPU-only, TPU, no price, ...).")
    if report.problems:
        lines.append(
            f"[yellow]{len(report.problems):,} rows could not be read "
            "(unknown GPU names or malformed values); --problems lists them.[/yellow]"
        )
    return "\n".join(lines)
