"""What goes out for one event: its CloudEvents type, and the body in a sink's format.

Types are ``io.chaoshub.<subject>.<what>``: the subject is ``run``, ``workflow``,
``threshold-search`` or ``agent`` (``schedule`` for what a schedule started), the what is
the event's kind (``phase-changed`` for a phase move), e.g. ``io.chaoshub.run.phase-changed``,
``io.chaoshub.agent.offline``, ``io.chaoshub.schedule.fired``."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy.orm import Session

from chaoshub import secrets
from chaoshub.store.models import Event, Run, ThresholdSearch, WorkflowRun

PREFIX = "io.chaoshub."
CONTENT_TYPE = "application/cloudevents+json"
#: the one place an event's subject kind is told from its run id
_SUBJECTS: tuple[tuple[str, type[Any]], ...] = (
    ("run", Run),
    ("workflow", WorkflowRun),
    ("threshold-search", ThresholdSearch),
)


def subject_kind(session: Session, event: Event) -> str:
    if event.run_id is None:
        return "agent" if event.agent else "hub"
    for name, model in _SUBJECTS:
        if find(session, model, event.run_id) is not None:
            return name
    return "run"


def find(session: Session, model: type[Any], id: str) -> Any:
    """A row by id, including one added in this transaction and not flushed yet."""
    for obj in session.new:
        if isinstance(obj, model) and getattr(obj, "id", None) == id:
            return obj
    return session.get(model, id)


def event_type(session: Session, event: Event) -> str:
    if event.kind == "scheduled":
        return f"{PREFIX}schedule.fired"
    subject = subject_kind(session, event)
    if event.kind == "phase":
        what = "phase-changed"
    elif subject == "agent" and event.kind.startswith("agent-"):
        what = event.kind.removeprefix("agent-")
    else:
        what = event.kind
    return f"{PREFIX}{subject}.{what}"


#: a type's subject -> the CloudEvents ``source`` (the collection the subject belongs to)
SOURCES = {
    "run": "/chaoshub/runs",
    "workflow": "/chaoshub/workflows",
    "threshold-search": "/chaoshub/threshold-searches",
    "agent": "/chaoshub/agents",
    "schedule": "/chaoshub/schedules",
    "sink": "/chaoshub/event-sinks",
}


def _source(ce_type: str) -> str:
    subject = ce_type.removeprefix(PREFIX).split(".", 1)[0]
    return SOURCES.get(subject, "/chaoshub")


def event_data(event: Event) -> dict[str, Any]:
    return {
        "eventId": event.id,
        "at": event.at.isoformat(),
        "kind": event.kind,
        "runId": event.run_id,
        "agent": event.agent,
        "fromPhase": event.from_phase,
        "toPhase": event.to_phase,
        "target": event.target,
        "reason": event.reason,
        "data": secrets.mask(event.data or {}),
    }


def cloudevent(event: Event, ce_type: str) -> dict[str, Any]:
    """CloudEvents 1.0, structured mode: ``id`` is the hub's event id (unique per source,
    the same on every retry, so a receiver can drop duplicates)."""
    return {
        "specversion": "1.0",
        # a test delivery's event is not stored and has no id of its own
        "id": str(event.id) if event.id is not None else f"test-{uuid.uuid4().hex}",
        "source": _source(ce_type),
        "type": ce_type,
        "subject": event.run_id or event.agent or "",
        "time": event.at.isoformat(),
        "datacontenttype": "application/json",
        "data": event_data(event),
    }


def slack_text(event: Event, ce_type: str) -> str:
    subject = ce_type.removeprefix(PREFIX).split(".", 1)[0]
    who = event.run_id or event.agent or "hub"
    what = f"{event.from_phase} → {event.to_phase}" if event.kind == "phase" else event.kind
    text = f"*{subject} {who}*: {what}"
    if event.target:
        text += f" on {event.target}"
    if event.reason:
        text += f" — {event.reason}"
    return text


def body(fmt: str, event: Event, ce_type: str) -> tuple[bytes, str]:
    """The request body in a sink's format, and its content type."""
    if fmt == "slack":
        payload: dict[str, Any] = {"text": slack_text(event, ce_type)}
        content_type = "application/json"
    else:
        payload = cloudevent(event, ce_type)
        content_type = CONTENT_TYPE
    return json.dumps(payload, separators=(",", ":"), default=str).encode(), content_type
