"""The web dashboard: server-rendered pages (Jinja2) kept live with HTMX polling.

Pages: ``/`` overview (GPUs total / allocated / free per model, utilisation, queue, jobs by
state, a utilisation-over-time chart), ``/nodes`` (nodes and their GPUs with telemetry; lost
nodes and simulated GPUs marked), ``/jobs`` (filter by project and state), ``/jobs/{id}``
(details, exit code, log lines while it runs), ``/projects`` (quota use per GPU model). Each
page polls itself every ``LIVE_POLL_S`` seconds with ``HX-Request: true`` and gets back only its
live fragment. Charts are inline SVG drawn on the server; the one script is vendored htmx
(``static/VENDORED.md``). Routes call the API's services (and ``queries`` for the two
aggregates the API has no service for); none touches the database itself.

The supply chain (``routes_supply``, ``views_supply``): ``/plans`` and ``/plans/{id}`` (orders,
our plan against the baselines and the bound, reliability used, its purchase orders, and the
planner's own report in a sandboxed ``<iframe>`` from ``/plans/{id}/report``; an admin may
accept a proposed plan there), ``/orders`` and ``/orders/{id}`` (state, promised against
delivered, acceptance counts, the state history, the delivered nodes), ``/costs`` (cost per
project, supplier and day over a window, idle cost for admins, this month's budgets, the
chargeback CSV at ``/costs/chargeback.csv``) and ``/suppliers`` (adapters and scorecards).
Orders poll like the fleet pages; costs every ``SLOW_POLL_S``; plans and suppliers do not.

**Authentication.** ``/login`` takes an API token (the same tokens as the REST API, made with
``POST /api/v1/tokens``; ``gpufleet up`` prints the first admin's) and stores it in the
``gpufleet_session`` cookie: ``HttpOnly`` (page scripts cannot read it), ``SameSite=Strict``
(never sent on a cross-site request, so no other site can act through it), ``Path=/``,
``Secure`` when served over HTTPS, no ``Max-Age`` (it ends with the browser session). Every
page request looks the token up by its SHA-256 exactly as the API does (``services.auth``), so an
expired or unknown token ends the session at once and roles are the API's: an admin sees every
project's jobs, a member only its own project's (another project's job is "not found"), and
only its own project's costs and budget; both see nodes, projects, plans, orders and suppliers.
Agent tokens are refused. No server-side session or signing key is needed.
The cookie authenticates dashboard pages only — the API still takes only
``Authorization: Bearer`` — and the login and logout forms refuse a cross-origin ``Origin``.
Logging out deletes the cookie; the token itself stays valid until it expires. The one other
form, "Accept plan", is checked the same way (and accepting is the service's, admins only).
Open without a token: ``/login`` itself and the static files (htmx, CSS), which hold no data.

The utilisation chart is drawn from samples this server process keeps in memory
(``UtilisationHistory``): one each time the overview is rendered, at most one per
``min_step_s``. The database holds only each GPU's latest telemetry, so the chart starts empty
after a restart and fills while someone watches the overview.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gpufleet.server.dashboard import routes, routes_supply
from gpufleet.server.dashboard.history import UtilisationHistory

STATIC_PATH = "/static"


def install(app: FastAPI) -> None:
    """Add the dashboard's pages, its static files and its utilisation history to ``app``."""
    app.state.dashboard_history = UtilisationHistory()
    app.include_router(routes.router)
    app.include_router(routes_supply.router)
    app.mount(
        STATIC_PATH,
        StaticFiles(packages=[("gpufleet.server.dashboard", "static")]),
        name="dashboard-static",
    )
