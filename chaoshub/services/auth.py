"""API tokens and roles (DESIGN.md §10): viewer < operator < admin, and agent apart."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoshub.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from chaoshub.store.models import ApiToken

ROLES = ("viewer", "operator", "admin", "agent")
_RANK = {"viewer": 1, "operator": 2, "admin": 3}
TOKEN_PREFIX = "chub_"


@dataclass(frozen=True)
class Actor:
    """Who is calling: the token's name, its role and id."""

    name: str
    role: str
    token_id: str | None = None
    #: an agent token's agent name, once bound (see :mod:`chaoshub.services.agents`)
    agent_name: str | None = None

    def require(self, role: str) -> None:
        """Raise :class:`Forbidden` unless this actor has at least ``role``."""
        if role == "agent":
            if self.role not in ("agent", "admin"):
                raise Forbidden(f"this call needs an agent token; yours is {self.role}")
            return
        if _RANK.get(self.role, 0) < _RANK[role]:
            raise Forbidden(f"this needs the {role} role; token {self.name!r} is {self.role}")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def bound_token(session: Session, agent_name: str) -> ApiToken | None:
    """The live token bound to ``agent_name``, if any."""
    return session.scalars(
        select(ApiToken).where(ApiToken.agent_name == agent_name, ApiToken.revoked_at.is_(None))
    ).one_or_none()


def create_token(
    session: Session,
    name: str,
    role: str,
    token: str | None = None,
    *,
    agent_name: str | None = None,
) -> tuple[ApiToken, str]:
    """Store a new token (hashed) and return the row and the plain token, shown once.

    ``agent_name`` (agent tokens only) binds the token to that agent up front."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field=["role"])
    if not name.strip():
        raise InvalidInput("a token needs a name", field=["name"])
    if agent_name is not None:
        agent_name = check_agent_name(agent_name, field="agentName")
        if role != "agent":
            raise InvalidInput("only an agent token is bound to an agent", field=["agentName"])
        if bound_token(session, agent_name) is not None:
            raise InvalidInput(
                f"agent {agent_name!r} already has a live token: revoke it first",
                field=["agentName"],
            )
    plain = token or new_token()
    row = ApiToken(
        name=name.strip(),
        role=role,
        token_hash=hash_token(plain),
        prefix=plain[:9],
        agent_name=agent_name,
    )
    session.add(row)
    session.flush()
    return row, plain


def ensure_token(
    session: Session, name: str, role: str, token: str, *, agent_name: str | None = None
) -> ApiToken:
    """Make ``token`` valid (idempotent), e.g. the bootstrap admin token from the environment."""
    row = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token))
    ).one_or_none()
    if row is None:
        row, _ = create_token(session, name, role, token, agent_name=agent_name)
    else:
        if row.revoked_at is not None or row.role != role:
            row.revoked_at = None
            row.role = role
        if agent_name is not None and row.agent_name != agent_name:
            other = bound_token(session, agent_name)
            if other is not None and other.id != row.id:
                other.revoked_at = datetime.now(UTC)  # the caller owns this name outright
                session.flush()
            row.agent_name = agent_name
    return row


AGENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def check_agent_name(value: object, *, field: str = "name") -> str:
    """An agent name: it is the first part of every target id (``NAME/...``)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("an agent needs a name", field=[field])
    if not AGENT_NAME.fullmatch(value):
        raise InvalidInput(
            "an agent name is letters, digits, '.', '_' or '-' (at most 200), "
            "starting with a letter or digit",
            field=[field],
        )
    return value


def revoke_token(session: Session, token_id: str) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id!r}", field=["id"])
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    return row


def authenticate(session: Session, authorization: str | None) -> Actor:
    if not authorization:
        raise Unauthenticated("missing Authorization header: send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    row = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token.strip()))
    ).one_or_none()
    if row is None:
        raise Unauthenticated("unknown token")
    if row.revoked_at is not None:
        raise Unauthenticated("this token was revoked")
    now = datetime.now(UTC)
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now
    return Actor(name=row.name, role=row.role, token_id=row.id, agent_name=row.agent_name)
