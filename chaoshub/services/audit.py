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
