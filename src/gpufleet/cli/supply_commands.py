"""``gpufleet suppliers | orders``: suppliers, their offers and scorecards, and purchase orders
on a running control plane, over its API. Thin like ``fleet_commands``: parse, call, print."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from gpufleet.catalog.gpus import UnknownGpuError, gpu_table
from gpufleet.catalog.problems import CatalogError
from gpufleet.catalog.query import gpu_filter
from gpufleet.catalog.sources import default_sources, find_shared_data, load_offers
from gpufleet.cli.client import DEFAULT_SERVER
from gpufleet.cli.console import err, fail, out
from gpufleet.cli.job_commands import (
    JsonOption,
    ServerOption,
    TokenOption,
    connect,
    fetch_list,
    print_json,
)
from gpufleet.domain.offer import Offer
from gpufleet.domain.purchase_order import PoState
from gpufleet.server.schemas_costs import ScorecardPublic
from gpufleet.server.schemas_supply import (
    OfferImportResult,
    PoDelivered,
    PurchaseOrderPublic,
    SupplierPublic,
)

IMPORT_CHUNK = 5000

suppliers_app = typer.Typer(
    help="Suppliers (the default: list them), their offers and scorecards.",
    no_args_is_help=False,
    rich_markup_mode="rich",
)


@suppliers_app.callback(invoke_without_command=True)
def suppliers(
    ctx: typer.Context,
    as_json: JsonOption = False,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """List suppliers: kind, adapter (automatic or by hand), offers."""
    if ctx.invoked_subcommand is not None:
        return
    found = fetch_list(server, token, SupplierPublic, "/suppliers", as_json=as_json)
    if found is None:
        return
    if not found:
        err.print("no suppliers yet: `gpufleet suppliers import-offers` or `suppliers create`")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("SUPPLIER", "KIND", "ADAPTER", "OFFERS", "DOES NOT"):
        table.add_column(column, justify="right" if column == "OFFERS" else "left")
    for s in found:
        adapter = s.adapter + ("" if s.automatic else " (by hand)")
        lacks = "; ".join(f"{k}: {v}" for k, v in s.unsupported.items())
        table.add_row(escape(s.name), s.kind, adapter, str(s.offers), escape(lacks) or "-")
    out.print(table)


def _config(pairs: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise fail(f"--config {pair!r}: expected KEY=VALUE, e.g. failed_gpus=1")
        try:
            config[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            config[key.strip()] = value
    return config


@suppliers_app.command("create")
def create_supplier(
    name: Annotated[str, typer.Argument(help="The supplier id offers use (aws, lambda, ...).")],
    adapter: Annotated[
        str, typer.Option(help="manual (a person records each step) or simulated.")
    ] = "manual",
    config: Annotated[
        list[str] | None,
        typer.Option(help="Adapter setting KEY=VALUE, e.g. failed_gpus=1; repeatable."),
    ] = None,
    kind: Annotated[str, typer.Option(help="cloud, neocloud, marketplace, colocation, ...")] = (
        "unknown"
    ),
    display_name: Annotated[str, typer.Option(help="A longer name.")] = "",
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """Create a supplier (admin)."""
    body = {
        "name": name,
        "adapter": adapter,
        "adapter_config": _config(config or []),
        "kind": kind,
        "display_name": display_name,
    }
    with connect(server, token) as client:
        created = client.call(SupplierPublic, "POST", "/suppliers", json=body)
    out.print(f"supplier {escape(created.name)}: adapter {created.adapter}", highlight=False)


def _offer_body(offer: Offer) -> dict[str, Any]:
    return {
        "supplier": offer.supplier,
        "instance_type": offer.instance_type,
        "gpu": offer.gpu,
        "gpus_per_unit": offer.gpus_per_unit,
        "contract": offer.contract.value,
        "price_usd_per_hour": offer.price_usd_per_hour,
        "spot_price_usd_per_hour": offer.spot_price_usd_per_hour,
        "region": offer.region,
        "zone": offer.zone,
        "vcpus": offer.vcpus,
        "memory_gib": offer.memory_gib,
        "term_months": offer.term_months,
        "lead_time_days": offer.lead_time_days,
        "min_units": offer.min_units,
        "capacity_units": offer.capacity_units,
        "upfront_usd": offer.upfront_usd,
        "source": offer.source[:2000],
    }


@suppliers_app.command("import-offers")
def import_offers(
    gpu: Annotated[
        list[str] | None, typer.Option(help="Only these GPU models or families; repeatable.")
    ] = None,
    supplier: Annotated[
        list[str] | None, typer.Option(help="Only these suppliers; repeatable.")
    ] = None,
    catalog: Annotated[
        list[Path] | None,
        typer.Option(help="SkyPilot vms.csv file or folder (default: $GPUFLEET_DATA/catalog)."),
    ] = None,
    suppliers_file: Annotated[
        list[Path] | None,
        typer.Option("--suppliers", help="Supplier YAML file or folder (private contracts)."),
    ] = None,
    adapter: Annotated[
        str, typer.Option(help="Adapter of the suppliers this import creates.")
    ] = "manual",
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """Read offers as `gpufleet offers` does and import them into the control plane (admin).
    Re-importing updates offers in place."""
    table = gpu_table()
    try:
        wanted = gpu_filter(table, gpu or [])
        sources = default_sources(
            find_shared_data(os.environ, Path.cwd()),
            catalogs=catalog or (),
            supplier_paths=suppliers_file or (),
        )
        loaded = load_offers(sources, table)
    except UnknownGpuError as exc:
        raise fail(f"--gpu: {exc}") from None
    except CatalogError as exc:
        raise fail(str(exc), code=1) from None
    chosen = {s.lower() for s in supplier or []}
    offers = [
        o
        for o in loaded.offers
        if (wanted is None or o.gpu in wanted) and (not chosen or o.supplier.lower() in chosen)
    ]
    if not offers:
        raise fail("no offers match: check --gpu and --supplier (`gpufleet offers` lists them)")
    created = updated = 0
    new: list[str] = []
    with connect(server, token) as client:
        for start in range(0, len(offers), IMPORT_CHUNK):
            chunk = [_offer_body(o) for o in offers[start : start + IMPORT_CHUNK]]
            body = {"offers": chunk, "adapter": adapter}
            result = client.call(OfferImportResult, "POST", "/offers/import", json=body)
            created, updated = created + result.created, updated + result.updated
            new.extend(result.suppliers_created)
    out.print(
        f"{created} offers created, {updated} updated, from {sources.describe()}"
        + (f"; new suppliers: {', '.join(new)}" if new else ""),
        highlight=False,
        soft_wrap=True,
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _usd(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


@suppliers_app.command("scorecards")
def scorecards(
    as_json: JsonOption = False,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """On-time delivery, acceptance failures, node failures, effective cost, reliability."""
    cards = fetch_list(server, token, ScorecardPublic, "/scorecards", as_json=as_json)
    if cards is None:
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("SUPPLIER")
    for column in (
        "ORDERS", "ON TIME", "GPUS TESTED", "FAILED", "NODE FAILURES", "MTBF h",
        "PAID $", "LIST $/GPU-h", "EFFECTIVE $/GPU-h", "RELIABILITY",
    ):  # fmt: skip
        table.add_column(column, justify="right")
    for c in cards:
        table.add_row(
            escape(c.supplier),
            str(c.orders),
            _pct(c.on_time_rate),
            str(c.gpus_tested),
            f"{c.gpus_failed} ({_pct(c.acceptance_failure_rate)})",
            str(c.node_failures),
            "-" if c.mtbf_hours is None else f"{c.mtbf_hours:,.0f}",
            _usd(c.paid_usd),
            _usd(c.list_usd_per_gpu_hour),
            _usd(c.effective_usd_per_useful_gpu_hour),
            _pct(c.reliability),
        )
    out.print(table)


orders_app = typer.Typer(
    help="Purchase orders (the default: list them); create, submit, record steps, deliver.",
    no_args_is_help=False,
    rich_markup_mode="rich",
)


@orders_app.callback(invoke_without_command=True)
def orders(
    ctx: typer.Context,
    state: Annotated[PoState | None, typer.Option(help="Only orders in this state.")] = None,
    as_json: JsonOption = False,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """List purchase orders, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    params = {} if state is None else {"state": state.value}
    path = "/purchase-orders"
    found = fetch_list(server, token, PurchaseOrderPublic, path, as_json=as_json, params=params)
    if found is None:
        return
    if not found:
        err.print("no purchase orders yet: accept a plan, or `gpufleet orders create --offer ID`")
        return
    out.print(order_table(found))


def order_table(found: list[PurchaseOrderPublic]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "STATE", "SUPPLIER", "GPUS", "MODEL", "CONTRACT", "$/GPU-h"):
        table.add_column(column, justify="right" if column in ("ID", "GPUS", "$/GPU-h") else "left")
    table.add_column("PROMISED")
    table.add_column("DELIVERED")
    table.add_column("PASSED/FAILED", justify="right")
    for o in found:
        late = (
            o.promised_at is not None
            and o.delivered_at is not None
            and (o.delivered_at > o.promised_at)
        )
        delivered = "-" if o.delivered_at is None else f"{o.delivered_at:%Y-%m-%d %H:%M}"
        table.add_row(
            str(o.id),
            o.state.value,
            escape(o.supplier),
            str(o.gpus),
            o.gpu,
            o.contract.value,
            f"{o.usd_per_gpu_hour:,.2f}",
            "-" if o.promised_at is None else f"{o.promised_at:%Y-%m-%d %H:%M}",
            delivered + (" [red]late[/]" if late else ""),
            f"{o.gpus_passed}/{o.gpus_failed}" if o.state.final else "-",
        )
    return table


@orders_app.command("show")
def show_order(
    order_id: Annotated[int, typer.Argument(help="The order's id.")],
    as_json: JsonOption = False,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """An order with its whole history (every state change: when, who, why) and its nodes."""
    with connect(server, token) as client:
        order = client.call(PurchaseOrderPublic, "GET", f"/purchase-orders/{order_id}")
    _print_order(order, as_json=as_json)


def _print_order(order: PurchaseOrderPublic, *, as_json: bool) -> None:
    if as_json:
        print_json(order.model_dump(mode="json"))
        return
    out.print(order_table([order]))
    for event in order.history:
        before = f"{event.from_state.value} -> " if event.from_state else ""
        note = f": {escape(event.note)}" if event.note else ""
        when = f"{event.at:%Y-%m-%d %H:%M}"
        out.print(
            f"  {when} {before}{event.to_state.value} by {escape(event.by)}{note}",
            highlight=False,
        )
    if order.nodes:
        out.print(f"  nodes: {', '.join(order.nodes)}", highlight=False)


@orders_app.command("create")
def create_order(
    offer: Annotated[int, typer.Option(help="The offer to buy (`GET /api/v1/offers` ids).")],
    units: Annotated[int, typer.Option(min=1, help="Units (machines) to buy.")] = 1,
    submit: Annotated[bool, typer.Option("--submit", help="Send it to the supplier now.")] = False,
    note: Annotated[str, typer.Option(help="Why (kept in its history).")] = "",
    as_json: JsonOption = False,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """Create a purchase order from an offer (admin); a draft unless --submit."""
    body = {"offer": offer, "units": units, "submit": submit, "note": note}
    with connect(server, token) as client:
        order = client.call(PurchaseOrderPublic, "POST", "/purchase-orders", json=body)
    _print_order(order, as_json=as_json)


@orders_app.command("step")
def step_order(
    order_id: Annotated[int, typer.Argument(help="The order's id.")],
    to: Annotated[PoState, typer.Argument(help="submitted, confirmed, delivering or cancelled.")],
    note: Annotated[str, typer.Option(help="Why (kept in its history).")] = "",
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """Record a step of an order (admin): submit it, or what its supplier said by hand."""
    path = f"/purchase-orders/{order_id}/transition"
    with connect(server, token) as client:
        order = client.call(PurchaseOrderPublic, "POST", path, json={"to": to.value, "note": note})
    _print_order(order, as_json=False)


@orders_app.command("deliver")
def deliver_order(
    order_id: Annotated[int, typer.Argument(help="The order's id.")],
    node: Annotated[list[str], typer.Option(help="A delivered machine's name; repeatable.")],
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """Record the machines an order delivered (admin): each becomes a quarantined node and gets
    an agent token (printed once) to start `gpufleet agent` with on that machine."""
    path = f"/purchase-orders/{order_id}/deliver"
    with connect(server, token) as client:
        delivered = client.call(PoDelivered, "POST", path, json={"nodes": node})
    _print_order(delivered.order, as_json=False)
    for item in delivered.nodes:
        typer.echo(f"{item.name}\t{item.token}")  # plain: scripts read NAME<TAB>TOKEN
    err.print(
        "on each machine: gpufleet agent --server URL --token TOKEN --name NAME "
        "(its GPUs are scheduled once their acceptance test passes)",
        highlight=False,
        soft_wrap=True,
    )
