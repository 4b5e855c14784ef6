"""Templates (``dashboard/templates``, autoescaped, strict) and the headers every page carries.

Output is escaped by Jinja everywhere; on top, a Content-Security-Policy allows scripts, styles
and everything else from this origin only (no inline script or style, so an injected tag could
not run even if it slipped through) and forbids framing. ``Vary: HX-Request`` keeps a browser
from showing a cached live fragment as a page.

The planner's HTML report (its own inline ``<style>`` and ``data:`` PNG plots) is served with
``REPORT_HEADERS`` instead: a CSP that loads nothing but those, runs no script, sandboxes the
document (an opaque origin even when opened directly) and lets only the dashboard frame it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

LIVE_POLL_S = 2
"""Seconds between the live fragments' polls."""
SLOW_POLL_S = 30
"""Seconds between polls of the costs page, which reads every allocation of its window."""

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Vary": "HX-Request, Cookie",
}

REPORT_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
        "form-action 'none'; sandbox; frame-ancestors 'self'"
    ),
}

_MINUTE_S = 60
_HOUR_S = 3600
_DAY_S = 86_400


def utc(at: datetime | None) -> str:
    """``2026-01-05 09:00:03 UTC``; an em dash for no time."""
    if at is None:
        return "—"
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def seconds(total_s: float) -> str:
    """A duration for people: ``42 s``, ``3 min 5 s``, ``2 h 4 min``, ``3 d 1 h``."""
    s = max(int(total_s), 0)
    if s < _MINUTE_S:
        return f"{s} s"
    if s < _HOUR_S:
        return f"{s // _MINUTE_S} min {s % _MINUTE_S} s"
    if s < _DAY_S:
        return f"{s // _HOUR_S} h {s % _HOUR_S // _MINUTE_S} min"
    return f"{s // _DAY_S} d {s % _DAY_S // _HOUR_S} h"


def between(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "—"
    return seconds((end - start).total_seconds())


def number(value: float | None, digits: int = 0, unit: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}{unit}"


def usd(value: float | None, digits: int = 2) -> str:
    """``$1,234.56``; an em dash for no amount."""
    if value is None:
        return "—"
    return f"-${-value:,.{digits}f}" if value < 0 else f"${value:,.{digits}f}"


def percent(fraction: float | None, digits: int = 0) -> str:
    """A fraction as ``12 %``; an em dash for none."""
    if fraction is None:
        return "—"
    return f"{100 * fraction:.{digits}f} %"


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("gpufleet.server.dashboard", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters.update(
    utc=utc, seconds=seconds, between=between, number=number, usd=usd, percent=percent
)
_ENV.globals.update(poll_s=LIVE_POLL_S, slow_poll_s=SLOW_POLL_S)


def is_live_poll(request: Request) -> bool:
    """An htmx request for a page's live fragment."""
    return request.headers.get("HX-Request") == "true"


def live_page(request: Request, template: str, **values: Any) -> HTMLResponse:
    """The page, or only its live fragment (``_<template>``) for an htmx poll."""
    if is_live_poll(request):
        return page(f"_{template}", fragment=True, **values)
    return page(template, fragment=False, **values)


def page(
    template: str, *, status_code: int = 200, headers: dict[str, str] | None = None, **values: Any
) -> HTMLResponse:
    html = _ENV.get_template(template).render(**values)
    return HTMLResponse(
        html, status_code=status_code, headers={**SECURITY_HEADERS, **(headers or {})}
    )
