"""A small client for the control plane's user-facing API (``docs/api.md``), used by the CLI.

Every call returns the server's own schema (``JobPublic``, ``NodePublic``, ...), so the CLI and
the server cannot drift apart silently. Every failure is a ``ClientError`` whose message is fit
to print as it is:

* ``ApiError``: the server answered with an error; the message is its ``detail`` (a 422's
  list of problems flattened to ``field: problem``), plus what to do about a rejected token.
* ``ServerUnreachableError``: nothing answers at the URL (or not in time); the message says how
  to start a server.

Nothing is retried: a user command either happened once or says it failed.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import TypeAdapter, ValidationError

from gpufleet.domain.job import JobState
from gpufleet.server.schemas import (
    Health,
    JobPublic,
    LogPage,
    NodePublic,
    ProjectPublic,
    TokenPublic,
)

DEFAULT_SERVER = "http://127.0.0.1:8080"
DEFAULT_DATA_DIR = Path(".gpufleet")
"""Where ``gpufleet up`` keeps its SQLite database and tokens (relative to where it runs)."""
ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not a secret
API_PREFIX = "/api/v1"

_T = TypeVar("_T")


class _Text:
    """Marks a call whose answer is text, read as it is."""

    def __init__(self, text: str) -> None:
        self.text = text


class ClientError(Exception):
    """A user command failed; ``str()`` says why, ready to print."""


class ApiError(ClientError):
    """The server refused the request; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ServerUnreachableError(ClientError):
    """No gpufleet server answers at the URL."""


def local_admin_token(server: str, data_dir: Path = DEFAULT_DATA_DIR) -> str | None:
    """The admin token ``gpufleet up`` saved in ``data_dir``, for a server on this machine only
    (a local admin token is never sent to another host)."""
    host = urlsplit(server).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    path = data_dir / ADMIN_TOKEN_FILE
    if not loopback or not path.is_file():
        return None
    return path.read_text(encoding="utf-8").strip() or None


class FleetClient:
    """The user-facing endpoints (see the module docstring); a context manager."""

    def __init__(
        self,
        server: str,
        token: str | None,
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        base = self.server if self.server.endswith(API_PREFIX) else self.server + API_PREFIX
        headers = {"User-Agent": "gpufleet-cli"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.timeout_s = timeout_s
        self._http = httpx.Client(
            base_url=base, headers=headers, timeout=timeout_s, transport=transport
        )

    def __enter__(self) -> FleetClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ endpoints
    def health(self) -> Health:
        return self._call(Health, "GET", "/health")

    def submit(
        self,
        *,
        project: str,
        command: list[str],
        gpus: int = 1,
        gpu_models: list[str] | None = None,
        priority: int = 0,
        name: str = "",
        time_limit_s: int | None = None,
    ) -> JobPublic:
        body = {
            "project": project,
            "command": command,
            "gpus": gpus,
            "gpu_models": gpu_models or [],
            "priority": priority,
            "name": name,
            "time_limit_s": time_limit_s,
        }
        return self._call(JobPublic, "POST", "/jobs", json=body)

    def jobs(
        self, *, project: str | None = None, state: JobState | None = None, limit: int = 100
    ) -> list[JobPublic]:
        params: dict[str, str | int] = {"limit": limit}
        if project is not None:
            params["project"] = project
        if state is not None:
            params["state"] = state.value
        return self._call(list[JobPublic], "GET", "/jobs", params=params)

    def job(self, job_id: int) -> JobPublic:
        return self._call(JobPublic, "GET", f"/jobs/{job_id}")

    def cancel(self, job_id: int) -> JobPublic:
        return self._call(JobPublic, "POST", f"/jobs/{job_id}/cancel")

    def logs(self, job_id: int, after: int = 0) -> LogPage:
        return self._call(LogPage, "GET", f"/jobs/{job_id}/logs", params={"after": after})

    def nodes(self) -> list[NodePublic]:
        return self._call(list[NodePublic], "GET", "/nodes")

    def projects(self) -> list[ProjectPublic]:
        return self._call(list[ProjectPublic], "GET", "/projects")

    def create_project(
        self,
        name: str,
        *,
        quota: dict[str, int] | None = None,
        budget_usd: float | None = None,
        weight: float = 1.0,
    ) -> ProjectPublic:
        body = {"name": name, "quota": quota or {}, "budget_usd": budget_usd, "weight": weight}
        return self._call(ProjectPublic, "POST", "/projects", json=body)

    def create_token(
        self,
        user: str,
        role: str,
        *,
        project: str | None = None,
        node: str | None = None,
        ttl_s: int | None = None,
    ) -> TokenPublic:
        body = {"user": user, "role": role, "project": project, "node": node, "ttl_s": ttl_s}
        return self._call(TokenPublic, "POST", "/tokens", json=body)

    def call(self, schema: type[_T], method: str, path: str, **kwargs: Any) -> _T:
        """Any endpoint, its answer read as ``schema`` (the supply-chain commands use this)."""
        return self._call(schema, method, path, **kwargs)

    def text(self, method: str, path: str, **kwargs: Any) -> str:
        """An endpoint that answers text (CSV, HTML), not JSON."""
        return self._call(_Text, method, path, **kwargs).text

    # ------------------------------------------------------------------ internals
    def _call(self, schema: type[_T], method: str, path: str, **kwargs: Any) -> _T:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ConnectError:
            raise ServerUnreachableError(self._not_running()) from None
        except httpx.TimeoutException:
            msg = f"the gpufleet server at {self.server} did not answer within {self.timeout_s:g} s"
            raise ServerUnreachableError(msg) from None
        except httpx.HTTPError as exc:
            msg = f"cannot talk to {self.server}: {type(exc).__name__}: {exc}"
            raise ServerUnreachableError(msg) from None
        if response.status_code >= 400:
            raise ApiError(response.status_code, self._refusal(response))
        if schema is _Text:
            return _Text(response.text)  # type: ignore[return-value]
        try:
            return TypeAdapter(schema).validate_json(response.content)
        except ValidationError:
            msg = (
                f"{method} {path}: the answer from {self.server} is not what a gpufleet server "
                f"sends (HTTP {response.status_code}); is --server right?"
            )
            raise ApiError(response.status_code, msg) from None

    def _not_running(self) -> str:
        return (
            f"no gpufleet server is running at {self.server}: start one with `gpufleet up` "
            "(or `make up`), or point --server / $GPUFLEET_SERVER at yours"
        )

    def _refusal(self, response: httpx.Response) -> str:
        detail = _detail(response)
        status = response.status_code
        if status == 401:
            return (
                f"{detail} (HTTP 401): pass --token or set $GPUFLEET_TOKEN "
                "(`gpufleet up` prints an admin token)"
            )
        if status == 404 and not _is_json(response):
            return (
                f"{response.request.url} not found (HTTP 404): is {self.server} a gpufleet server?"
            )
        return detail if status < 500 else f"server error (HTTP {status}): {detail}"


def _is_json(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.startswith("application/json")


def _detail(response: httpx.Response) -> str:
    """The ``detail`` of an error body: a string, or FastAPI's 422 list of problems."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    detail = data.get("detail", data) if isinstance(data, dict) else data
    if isinstance(detail, list):
        return "; ".join(_problem(item) for item in detail)
    return str(detail)


def _problem(item: object) -> str:
    if not isinstance(item, dict):
        return str(item)
    where = [str(part) for part in item.get("loc", []) if part not in {"body", "query", "path"}]
    message = str(item.get("msg", item))
    return f"{'.'.join(where)}: {message}" if where else message
