"""The audit log: every mutation, who, what, when, and how it ended."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chaoshub.services.auth import Actor
from chaoshub.store.models import AuditEntry

_SECRET_KEYS = {"token", "password", "secret", "api_token", "aws_secret_access_key", "key"}


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("***" if k.lower() in _SECRET_KEYS else _redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def write(
    session: Session,
    actor: Actor,
    action: str,
    *,
    subject: str | None,
    input: dict[str, Any],
    result: str,
    message: str = "",
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor.name,
        role=actor.role,
        action=action,
        subject=subject,
        input=_redact(input),
        result=result,
        message=message[:2000],
    )
    session.add(entry)
    return entry


#: who a refusal is written under when no valid token came with it
ANONYMOUS = Actor(name="anonymous", role="none")


def refusal(
    session: Session,
    actor: Actor | None,
    action: str,
    code: str,
    message: str,
    *,
    subject: str | None = None,
    input: dict[str, Any] | None = None,
) -> AuditEntry:
    """A refused call (bad token, wrong role, bad input): one row, no traceback anywhere."""
    return write(
        session,
        actor or ANONYMOUS,
        action,
        subject=subject,
        input=input or {},
        result=code,
        message=message,
    )
