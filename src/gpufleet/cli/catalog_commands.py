"""``gpufleet gpus`` and ``gpufleet offers``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from gpufleet.catalog.gpus import UnknownGpuError, gpu_table, name_key
from gpufleet.catalog.problems import CatalogError
from gpufleet.catalog.query import OfferQuery, SortKey, gpu_filter, select_offers
from gpufleet.catalog.sources import default_sources, find_shared_data, load_offers
from gpufleet.cli import render
from gpufleet.cli.console import err, fail, out


def gpus(
    family: Annotated[
        str | None, typer.Option(help="Only this family or model (any alias).")
    ] = None,
    resolve: Annotated[
        str | None, typer.Option(help="Print the canonical model a name resolves to, and exit.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    table = gpu_table()
    if resolve is not None:
        try:
            model = table.require(resolve)
        except UnknownGpuError as exc:
            raise fail(str(exc)) from None
        if as_json:
            out.print_json(json.dumps(render.gpu_json(model)))
        else:
            out.print(f"{resolve} -> [bold]{model.id}[/bold] ({model.name})", highlight=False)
        return
    models = list(table.models)
    if family is not None:
        try:
            wanted = table.matching(family)
        except UnknownGpuError as exc:
            raise fail(str(exc)) from None
        models = [m for m in models if m.id in wanted]
    if as_json:
        out.print_json(json.dumps([render.gpu_json(m) for m in models]))
    else:
        out.print(render.gpu_table(models))


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def offers(
    gpu: Annotated[
        list[str] | None,
        typer.Option(
            help="GPU model or family, any alias (H100, a100-80gb, 'RTX 4090'). Repeatable."
        ),
    ] = None,
    min_gpus: Annotated[
        float | None, typer.Option(help="At least this many GPUs per unit.")
    ] = None,
    max_price_per_gpu_hour: Annotated[
        float | None, typer.Option(help="At most this many USD per GPU-hour.")
    ] = None,
    supplier: Annotated[
        list[str] | None, typer.Option(help="Only these suppliers (repeatable or comma-separated).")
    ] = None,
    region: Annotated[str | None, typer.Option(help="Region contains this text (us-east).")] = None,
    spot: Annotated[
        bool, typer.Option("--spot", help="Use spot prices; only spot offers.")
    ] = False,
    sort: Annotated[SortKey, typer.Option(help="Sort order.")] = SortKey.PRICE_PER_GPU,
    show_all: Annotated[
        bool, typer.Option("--all", help="Every region and zone, not the cheapest per supplier.")
    ] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Show at most this many rows.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (a list of offers).")] = False,
    catalog: Annotated[
        list[Path] | None,
        typer.Option(help="SkyPilot vms.csv file or folder (default: $GPUFLEET_DATA/catalog)."),
    ] = None,
    suppliers_file: Annotated[
        list[Path] | None,
        typer.Option(
            "--suppliers", help="Supplier YAML file or folder to add (private contracts)."
        ),
    ] = None,
    builtin: Annotated[
        bool | None,
        typer.Option(
            "--builtin/--no-builtin",
            help="Read the built-in offer table instead of the shared catalog "
            "(default: only when no catalog is found; --catalog paths are still read).",
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="Fail on the first bad row instead of skipping.")
    ] = False,
    problems: Annotated[
        bool, typer.Option("--problems", help="List every row that was skipped for a problem.")
    ] = False,
) -> None:
    table = gpu_table()
    try:
        wanted = gpu_filter(table, _split(gpu))
    except UnknownGpuError as exc:
        raise fail(f"--gpu: {exc}") from None
    try:
        shared = find_shared_data(os.environ, Path.cwd())
        sources = default_sources(
            shared, catalogs=catalog or (), supplier_paths=suppliers_file or (), builtin=builtin
        )
        loaded = load_offers(sources, table, strict=strict)
    except CatalogError as exc:
        raise fail(str(exc), code=1) from None
    supplier_ids = {name_key(s): s for s in loaded.supplier_ids}
    chosen_suppliers: set[str] | None = None
    if supplier:
        chosen_suppliers = set()
        for name in _split(supplier):
            if name_key(name) not in supplier_ids:
                known = ", ".join(sorted(supplier_ids.values()))
                raise fail(f"--supplier: no offers from {name!r}. Suppliers read: {known}")
            chosen_suppliers.add(supplier_ids[name_key(name)])
    query = OfferQuery(
        gpus=wanted,
        min_gpus=min_gpus,
        max_price_per_gpu_hour=max_price_per_gpu_hour,
        suppliers=None if chosen_suppliers is None else frozenset(chosen_suppliers),
        region=region,
        spot=spot,
        sort=sort,
        collapse=not show_all,
        limit=limit,
    )
    rows = select_offers(loaded.offers, table, query)
    report = loaded.report
    summary = render.load_summary(report, sources.describe(), len(loaded.supplier_ids))
    err.print(summary, highlight=False, soft_wrap=True)
    if problems:
        for problem in report.problems:
            err.print(f"  {problem}", highlight=False, markup=False, soft_wrap=True)
    if as_json:
        out.print_json(json.dumps([render.offer_json(r, spot=spot) for r in rows]))
        return
    if not rows:
        err.print("No offers match these filters.")
        return
    out.print(render.offer_table(rows, spot=spot, collapsed=not show_all, width=out.width))
