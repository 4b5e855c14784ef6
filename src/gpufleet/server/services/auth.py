"""API tokens and who may do what.

Tokens are ``secrets.token_urlsafe(32)``, stored as their SHA-256 (a leaked database gives no
usable token), each with a role: ``admin`` (everything), ``member`` of one project (its jobs;
read nodes and projects), ``agent`` of one node (that node's agent endpoints).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from gpufleet.server.db.engine import Database
from gpufleet.server.db.rows import TokenRow, UserRow
from gpufleet.server.errors import BadInputError, ForbiddenError, UnauthorizedError
from gpufleet.server.schemas import Role, TokenCreate, TokenPublic
from gpufleet.server.services.common import load_project

TOKEN_BYTES = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who is calling: the token's user, role and scope."""

    user: str
    role: Role
    project: str | None = None
    node: str | None = None

    @property
    def admin(self) -> bool:
        return self.role is Role.ADMIN


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    db: Database, principal: Principal, body: TokenCreate, now: datetime
) -> TokenPublic:
    """A new token (shown once), made by an admin."""
    require(principal, Role.ADMIN)
    return issue_token(db, body, now)


def issue_token(db: Database, body: TokenCreate, now: datetime) -> TokenPublic:
    """A new token for the system's own use (no caller to check): an agent token for a
    delivered node, the first admin token. Members need an existing project, agents a node
    name."""
    if body.role is Role.MEMBER and body.project is None:
        raise BadInputError("project: a member token needs a project")
    if body.role is Role.AGENT and body.node is None:
        raise BadInputError("node: an agent token needs a node name")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = None if body.ttl_s is None else now + timedelta(seconds=body.ttl_s)
    with db.transaction() as session:
        project = None if body.project is None else load_project(session, body.project)
        user = session.scalar(select(UserRow).where(UserRow.name == body.user))
        if user is None:
            user = UserRow(name=body.user, created_at=now)
            session.add(user)
        session.add(
            TokenRow(
                token_sha256=hash_token(token),
                user=user,
                role=body.role.value,
                project=project,
                node_name=body.node if body.role is Role.AGENT else None,
                created_at=now,
                expires_at=expires_at,
            )
        )
    return TokenPublic(
        token=token,
        user=body.user,
        role=body.role,
        project=body.project,
        expires_at=expires_at,
    )


def bootstrap_admin(db: Database, now: datetime, user: str = "admin") -> str | None:
    """A first admin token when the database has none (``gpufleet up`` prints it); ``None``
    when an admin token already exists."""
    with db.transaction() as session:
        exists = session.scalar(select(TokenRow.id).where(TokenRow.role == Role.ADMIN.value))
    if exists is not None:
        return None
    return issue_token(db, TokenCreate(user=user, role=Role.ADMIN), now).token


def authenticate(db: Database, token: str | None, now: datetime) -> Principal:
    """The principal a bearer token stands for; ``UnauthorizedError`` if missing, unknown or
    expired."""
    if not token:
        raise UnauthorizedError("missing bearer token (Authorization: Bearer <token>)")
    with db.transaction() as session:
        row = session.scalar(select(TokenRow).where(TokenRow.token_sha256 == hash_token(token)))
        if row is None:
            raise UnauthorizedError("unknown token")
        if row.expires_at is not None and row.expires_at <= now:
            raise UnauthorizedError(f"token expired at {row.expires_at.isoformat()}")
        return Principal(
            user=row.user.name,
            role=Role(row.role),
            project=row.project.name if row.project is not None else None,
            node=row.node_name,
        )


def require(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        allowed = " or ".join(r.value for r in roles)
        raise ForbiddenError(f"role {principal.role.value} may not do this (needs {allowed})")


def require_node(principal: Principal, node: str) -> None:
    """Agents act only as their own node; admins as any."""
    require(principal, Role.ADMIN, Role.AGENT)
    if principal.role is Role.AGENT and principal.node != node:
        raise ForbiddenError(f"node: this agent token is for node {principal.node!r}, not {node!r}")
