"""A thin HTTP client for the control plane's ``/api/v1/agent/*`` endpoints (``docs/api.md``).

Every request carries ``Authorization: Bearer <token>``. Outcomes:

* 2xx: the decoded JSON body (``heartbeat`` parses it into ``Assignments``).
* 401 / 403: ``AuthError``, saying whether the token was rejected or not allowed, with the
  server's ``detail``; retrying cannot help, so it never retries.
* 404: ``NotFoundError``; 409: ``ConflictError``; any other 4xx: ``ApiError``. All carry
  ``status`` and the server's ``detail``.
* No connection (refused, DNS, connect timeout) or 502/503/504: retried ``retries`` times
  with exponential backoff (``backoff_s``, doubling, at most ``backoff_max_s``) through the
  injected ``sleep``, then ``ServerUnavailableError``. Only failures where the server cannot
  have acted on the request are retried; a read timeout or other 5xx raises
  ``ServerUnavailableError`` at once, so a request is never applied twice by a retry here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from gpufleet.agent.messages import Assignments, parse_assignments
from gpufleet.agent.runner import JobId

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
_TRANSIENT_STATUS = frozenset({502, 503, 504})


class ApiError(Exception):
    """The server refused a request (4xx); ``status`` and ``detail`` say why."""

    def __init__(self, method: str, path: str, status: int, detail: str) -> None:
        super().__init__(f"{method} {path}: {status} {detail}")
        self.method = method
        self.path = path
        self.status = status
        self.detail = detail


class AuthError(ApiError):
    """401 (token missing, unknown or expired) or 403 (token not allowed to do this)."""

    def __init__(self, method: str, path: str, status: int, detail: str) -> None:
        super().__init__(method, path, status, detail)
        what = (
            "the server rejected the agent token (401): check --token / the node's token"
            if status == 401
            else "the agent token is not allowed to do this (403): is it an agent token for "
            "this node?"
        )
        self.args = (f"{what}; {method} {path}: {detail}",)


class NotFoundError(ApiError):
    """404: the node or job is unknown to the server."""


class ConflictError(ApiError):
    """409: the server's state machine refused the change (e.g. the node was marked lost)."""


class ServerUnavailableError(Exception):
    """The server could not be reached (after retries) or failed (5xx)."""


Sleep = Callable[[float], object]


class AgentClient:
    """The agent's calls to the control plane (see the module docstring)."""

    def __init__(
        self,
        server_url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        backoff_max_s: float = 8.0,
        sleep: Sleep = time.sleep,
    ) -> None:
        base = server_url.rstrip("/")
        if not base.endswith(API_PREFIX):
            base += API_PREFIX
        self.base_url = base
        self.retries = retries
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "gpufleet-agent"},
            timeout=timeout_s,
            transport=transport,
        )

    def register(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /agent/register`` with a ``NodeRegister`` body; returns ``NodePublic``."""
        return _object(self._post("/agent/register", body))

    def heartbeat(self, body: dict[str, Any]) -> Assignments:
        """``POST /agent/heartbeat`` with a ``Heartbeat`` body; returns the assignments.

        ``MessageError`` when the response does not follow the contract.
        """
        return parse_assignments(self._post("/agent/heartbeat", body))

    def started(self, job_id: JobId) -> dict[str, Any]:
        """``POST /agent/jobs/{id}/started``: the job is running here."""
        return _object(self._post(_job_path(job_id, "started"), {}))

    def logs(self, job_id: JobId, lines: Sequence[str]) -> None:
        """``POST /agent/jobs/{id}/logs``: append ``lines`` in order."""
        self._post(_job_path(job_id, "logs"), {"lines": list(lines)})

    def finished(self, job_id: JobId, exit_code: int, *, stopped: bool) -> dict[str, Any]:
        """``POST /agent/jobs/{id}/finished``: the job ended with ``exit_code``."""
        body = {"exit_code": exit_code, "stopped": stopped}
        return _object(self._post(_job_path(job_id, "finished"), body))

    def acceptance(self, test: int, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /agent/acceptance/{test}`` with an ``AcceptanceReport``; returns the
        ``AcceptanceVerdict`` as JSON (``messages.parse_verdict`` reads it)."""
        return _object(self._post(f"/agent/acceptance/{int(test)}", body))

    def close(self) -> None:
        self._http.close()

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._http.post(path, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if last:
                    raise ServerUnavailableError(
                        f"POST {self.base_url}{path}: cannot connect ({exc})"
                    ) from None
                reason = str(exc) or type(exc).__name__
            except httpx.HTTPError as exc:
                raise ServerUnavailableError(
                    f"POST {self.base_url}{path}: {type(exc).__name__}: {exc}"
                ) from None
            else:
                if response.status_code not in _TRANSIENT_STATUS or last:
                    return _outcome("POST", path, response)
                reason = f"{response.status_code} {_detail(response)}"
            log.warning("POST %s failed (%s); retrying in %.1f s", path, reason, delay)
            self._sleep(delay)
            delay = min(delay * 2, self.backoff_max_s)
        raise AssertionError("unreachable")  # pragma: no cover


def _job_path(job_id: JobId, action: str) -> str:
    return f"/agent/jobs/{quote(str(job_id), safe='')}/{action}"


def _outcome(method: str, path: str, response: httpx.Response) -> Any:
    status = response.status_code
    if status < 300:
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise ServerUnavailableError(f"{method} {path}: response is not JSON") from None
    detail = _detail(response)
    if status in {401, 403}:
        raise AuthError(method, path, status, detail)
    if status == 404:
        raise NotFoundError(method, path, status, detail)
    if status == 409:
        raise ConflictError(method, path, status, detail)
    if status < 500:
        raise ApiError(method, path, status, detail)
    raise ServerUnavailableError(f"{method} {path}: server error {status} {detail}")


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])
    return str(data)[:200]


def _object(data: Any) -> dict[str, Any]:
    return data if isinstance(data, dict) else {}
