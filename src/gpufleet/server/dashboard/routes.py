"""The dashboard's routes: parse, call one ``views`` function, render a page (or, for an htmx
poll, the page's live fragment). Errors become HTML pages here rather than the API's JSON."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from gpufleet.server.dashboard import views
from gpufleet.server.dashboard.history import UtilisationHistory
from gpufleet.server.dashboard.render import is_live_poll, live_page, page
from gpufleet.server.dashboard.session import (
    FormDep,
    LoginRequiredError,
    ViewerDep,
    check_same_origin,
    end_session,
    login_url,
    safe_next,
    set_session,
    sign_in,
)
from gpufleet.server.deps import DbDep, NowDep
from gpufleet.server.errors import ServiceError
from gpufleet.server.services.auth import Principal

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class DashboardRoute(APIRoute):
    """Turns a missing session into the login page and a service error into an error page."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequiredError as error:
                return _to_login(request, error.reason)
            except ServiceError as error:
                return _error(request, error.status_code, error.message)
            except RequestValidationError as error:
                errors = error.errors()
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in errors
                )
                in_path = any(e["loc"][0] == "path" for e in errors)  # /jobs/abc: no such page
                return _error(request, 404 if in_path else 400, problems)

        return handle


router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


def _to_login(request: Request, reason: str) -> Response:
    if is_live_poll(request):
        # htmx follows HX-Redirect whatever the status; the page it was polling is ``next``.
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        target = f"{current.path}?{current.query}" if current.query else current.path
        target = safe_next(target)
        url = f"/login?{urlencode({'next': target})}" if target != "/" else "/login"
        response = Response(status_code=401, headers={"HX-Redirect": url})
        if reason:
            end_session(response, request)
        return response
    if not reason:
        return RedirectResponse(login_url(request), status_code=303)
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = page("login.html", status_code=401, error=reason, next=safe_next(path))
    end_session(response, request)
    return response


def _error(request: Request, status_code: int, message: str) -> Response:
    if is_live_poll(request):  # keep the page as it is; htmx does not swap error answers
        return Response(message, status_code=status_code, media_type="text/plain")
    return page("error.html", status_code=status_code, status=status_code, message=message)


def _history(request: Request) -> UtilisationHistory:
    history: UtilisationHistory = request.app.state.dashboard_history
    return history


# ---------------------------------------------------------------------------------- session
@router.get("/login")
def login_form(next: str = "/") -> Response:  # noqa: A002 - the query parameter's name
    return page("login.html", error="", next=safe_next(next))


@router.post("/login")
def login(request: Request, form: FormDep, db: DbDep, now: NowDep) -> Response:
    check_same_origin(request)
    token, target = form.get("token"), safe_next(form.get("next"))
    try:
        sign_in(db, token, now)
    except ServiceError as error:
        status = error.status_code
        reason = "That token is not valid." if status == 401 else error.message
        return page("login.html", status_code=status, error=reason, next=target)
    response = RedirectResponse(target, status_code=303)
    set_session(response, request, token)
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    check_same_origin(request)
    response = RedirectResponse("/login", status_code=303)
    end_session(response, request)
    return response


# ---------------------------------------------------------------------------------- pages
def _render(request: Request, template: str, viewer: Principal, **values: Any) -> Response:
    return live_page(request, template, viewer=viewer, **values)


@router.get("/")
def overview(request: Request, db: DbDep, now: NowDep, viewer: ViewerDep) -> Response:
    view = views.overview(db, viewer, now, _history(request))
    return _render(request, "overview.html", viewer, view=view, now=now)


@router.get("/nodes")
def nodes(request: Request, db: DbDep, now: NowDep, viewer: ViewerDep) -> Response:
    return _render(request, "nodes.html", viewer, nodes=views.fleet_nodes(db, viewer), now=now)


@router.get("/jobs")
def jobs(
    request: Request,
    db: DbDep,
    now: NowDep,
    viewer: ViewerDep,
    *,
    project: str = "",
    state: str = "",
) -> Response:
    view = views.job_list(db, viewer, project=project, state=state)
    return _render(request, "jobs.html", viewer, view=view, now=now)


@router.get("/jobs/{job_id}")
def job(
    request: Request, job_id: int, db: DbDep, now: NowDep, viewer: ViewerDep, *, after: int = 0
) -> Response:
    view = views.job_detail(db, viewer, job_id, after=max(after, 0))
    return _render(request, "job.html", viewer, view=view, now=now)


@router.get("/projects")
def projects(request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    return _render(request, "projects.html", viewer, projects=views.project_use(db, viewer))
