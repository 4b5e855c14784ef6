"""The supply-chain pages' routes: plans (with the planner's report and, for admins, an accept
button), purchase orders, costs and budgets (with the chargeback CSV), suppliers. Each parses,
calls one ``views_supply`` function and renders; errors become pages as in ``routes``. Only the
orders and costs pages poll (their figures move while deliveries and jobs run); plans and
suppliers change when someone acts, so they are plain pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gpufleet.server.dashboard import views_supply
from gpufleet.server.dashboard.render import REPORT_HEADERS, SECURITY_HEADERS, live_page, page
from gpufleet.server.dashboard.routes import DashboardRoute
from gpufleet.server.dashboard.session import ViewerDep, check_same_origin
from gpufleet.server.deps import DbDep, NowDep, ProvisionerDep

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

CSV_NAME = "gpufleet-chargeback.csv"


@router.get("/plans")
def plan_list(db: DbDep, viewer: ViewerDep) -> Response:
    return page("plans.html", viewer=viewer, plans=views_supply.plan_list(db, viewer))


@router.get("/plans/{plan_id}")
def plan(plan_id: int, db: DbDep, viewer: ViewerDep) -> Response:
    return page("plan.html", viewer=viewer, view=views_supply.plan_detail(db, viewer, plan_id))


@router.get("/plans/{plan_id}/report")
def plan_report(plan_id: int, db: DbDep, viewer: ViewerDep) -> Response:
    """The planner's report as it stored it: a whole document with inline PNG plots, under
    ``REPORT_HEADERS`` (sandboxed, no script, framable by the dashboard only)."""
    return HTMLResponse(views_supply.plan_report(db, viewer, plan_id), headers=REPORT_HEADERS)


@router.post("/plans/{plan_id}/accept")
def accept_plan(
    request: Request,
    plan_id: int,
    *,
    db: DbDep,
    now: NowDep,
    viewer: ViewerDep,
    provisioner: ProvisionerDep,
) -> Response:
    check_same_origin(request)
    views_supply.accept_plan(db, viewer, plan_id, now, provisioner)
    return RedirectResponse(f"/plans/{plan_id}", status_code=303)


@router.get("/orders")
def order_list(
    request: Request, db: DbDep, now: NowDep, viewer: ViewerDep, *, state: str = ""
) -> Response:
    view = views_supply.order_list(db, viewer, now, state=state)
    return live_page(request, "orders.html", viewer=viewer, view=view, now=now)


@router.get("/orders/{order_id}")
def order(request: Request, order_id: int, db: DbDep, now: NowDep, viewer: ViewerDep) -> Response:
    view = views_supply.order_detail(db, viewer, order_id, now)
    return live_page(request, "order.html", viewer=viewer, view=view, now=now)


@router.get("/costs")
def costs(
    request: Request,
    db: DbDep,
    now: NowDep,
    viewer: ViewerDep,
    *,
    since: str = "",
    until: str = "",
) -> Response:
    view = views_supply.costs(db, viewer, now, since=since, until=until)
    return live_page(request, "costs.html", viewer=viewer, view=view, now=now)


@router.get("/costs/chargeback.csv")
def chargeback(
    db: DbDep, now: NowDep, viewer: ViewerDep, *, since: str = "", until: str = ""
) -> Response:
    text = views_supply.chargeback_csv(db, viewer, now, since=since, until=until)
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{CSV_NAME}"'}
    return Response(text, media_type="text/csv", headers=headers)


@router.get("/suppliers")
def supplier_list(db: DbDep, now: NowDep, viewer: ViewerDep) -> Response:
    cards = views_supply.supplier_cards(db, viewer, now)
    return page("suppliers.html", viewer=viewer, cards=cards)
