"""The dashboard's login session: the API token in an ``HttpOnly``, ``SameSite=Strict`` cookie,
looked up (by its SHA-256, through ``services.auth``) on every request. Why this design: see the
package docstring."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import Depends, Request
from fastapi.responses import Response

from gpufleet.server.db.engine import Database
from gpufleet.server.deps import DbDep, NowDep
from gpufleet.server.errors import BadInputError, ForbiddenError, UnauthorizedError
from gpufleet.server.schemas import Role
from gpufleet.server.services.auth import Principal, authenticate

COOKIE = "gpufleet_session"
MAX_FORM_BYTES = 4096
_FORM = "application/x-www-form-urlencoded"


class LoginRequiredError(Exception):
    """No valid session: send the browser to ``/login`` (``reason`` shown there, if any)."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason or "login required")
        self.reason = reason


def sign_in(db: Database, token: str, now: datetime) -> Principal:
    """The principal for a token pasted into the login form; agents' tokens are refused."""
    principal = authenticate(db, token.strip(), now)
    if principal.role is Role.AGENT:
        raise ForbiddenError(
            "agent tokens are for node agents; log in with an admin or member token"
        )
    return principal


def current_viewer(request: Request, db: DbDep, now: NowDep) -> Principal:
    token = request.cookies.get(COOKIE)
    if not token:
        raise LoginRequiredError
    try:
        return sign_in(db, token, now)
    except (UnauthorizedError, ForbiddenError) as error:
        raise LoginRequiredError(f"Your session ended ({error.message}). Log in again.") from None


ViewerDep = Annotated[Principal, Depends(current_viewer)]


def set_session(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token.strip(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def end_session(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
    )


def safe_next(target: str | None) -> str:
    """A path on this site to go to after login; anything else (another host, ``//host``,
    a backslash trick, the login page itself) becomes ``/``."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 0x20 for c in target)
        or urlsplit(target).path in {"/login", "/logout"}
    ):
        return "/"
    return target


def login_url(request: Request) -> str:
    """``/login``, with the page asked for as ``next``."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login" if here == "/" else f"/login?{urlencode({'next': here})}"


def check_same_origin(request: Request) -> None:
    """Refuse a form posted from another site (login CSRF). Browsers send ``Origin`` on every
    POST; a client that sends none is not a browser another site can drive."""
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("Host"):
        raise ForbiddenError("this form may be posted only from the dashboard's own pages")


@dataclass(frozen=True, slots=True)
class Form:
    fields: dict[str, str]

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


async def read_form(request: Request) -> Form:
    """A small urlencoded form (the login form), read without python-multipart."""
    kind = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if kind != _FORM:
        raise BadInputError(f"expected a form ({_FORM}), got {kind or 'no content type'}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BadInputError(f"form larger than {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=8)
    except ValueError as error:
        raise BadInputError(f"form: {error}") from None
    return Form(dict(pairs))


FormDep = Annotated[Form, Depends(read_form)]
