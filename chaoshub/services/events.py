"""Writing events: every phase move and everything worth a reason, and in the same
transaction what each event sink is owed (:mod:`chaoshub.events_out.outbox`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chaoshub.events_out import outbox
from chaoshub.lifecycle import Transition
from chaoshub.store.models import Event, Run, WorkflowRun


def record(
    session: Session,
    kind: str,
    reason: str,
    *,
    run_id: str | None = None,
    agent: str | None = None,
    target: str | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    event = Event(
        kind=kind, reason=reason, run_id=run_id, agent=agent, target=target, data=data or {}
    )
    session.add(event)
    outbox.enqueue(session, event)
    return event


def record_transition(session: Session, run: Run | WorkflowRun, transition: Transition) -> Event:
    event = Event(
        kind="phase",
        run_id=run.id,
        from_phase=transition.from_phase.value,
        to_phase=transition.to_phase.value,
        reason=transition.reason,
        at=transition.at,
    )
    session.add(event)
    outbox.enqueue(session, event)
    return event
