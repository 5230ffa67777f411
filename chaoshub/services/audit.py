"""The audit log: every mutation, who, what, when, and how it ended."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chaoshub import secrets
from chaoshub.services.auth import Actor
from chaoshub.store.models import AuditEntry


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
        input=secrets.mask(input),
        result=result,
        message=message[:2000],
    )
    session.add(entry)
    return entry
