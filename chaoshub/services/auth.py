"""API tokens and roles (DESIGN.md §10): viewer < operator < admin, and agent apart."""

from __future__ import annotations

import hashlib
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


def create_token(
    session: Session, name: str, role: str, token: str | None = None
) -> tuple[ApiToken, str]:
    """Store a new token (hashed) and return the row and the plain token, shown once."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field=["role"])
    if not name.strip():
        raise InvalidInput("a token needs a name", field=["name"])
    plain = token or new_token()
    row = ApiToken(name=name.strip(), role=role, token_hash=hash_token(plain), prefix=plain[:9])
    session.add(row)
    session.flush()
    return row, plain


def ensure_token(session: Session, name: str, role: str, token: str) -> ApiToken:
    """Make ``token`` valid (idempotent), e.g. the bootstrap admin token from the environment."""
    row = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token))
    ).one_or_none()
    if row is None:
        row, _ = create_token(session, name, role, token)
    elif row.revoked_at is not None or row.role != role:
        row.revoked_at = None
        row.role = role
    return row


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
    return Actor(name=row.name, role=row.role, token_id=row.id)
