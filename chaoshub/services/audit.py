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
