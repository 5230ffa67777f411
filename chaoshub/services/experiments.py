"""Experiments: saved definitions, validated exactly as a run would be (without discovery)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoshub.errors import Conflict, InvalidInput, NotFound
from chaoshub.runtime import Runtime
from chaoshub.services import backends
from chaoshub.services.auth import Actor
from chaoshub.services.runs import RunSpec, validate_spec
from chaoshub.store.models import Experiment


@dataclass
class ExperimentInput:
    name: str
    fault_type: str
    backend: str
    params: dict[str, Any] = field(default_factory=dict)
    selector: dict[str, Any] = field(default_factory=dict)
    duration_seconds: float | None = None
    description: str = ""


def get(session: Session, experiment_id: str) -> Experiment:
    row = session.get(Experiment, experiment_id)
    if row is None:
        raise NotFound(f"no experiment with id {experiment_id!r}", field=["id"])
    return row


def create(
    rt: Runtime, session: Session, data: ExperimentInput, actor: Actor | None = None
) -> Experiment:
    backends._check_name(data.name)
    spec = RunSpec(data.fault_type, data.backend, data.params, data.selector, data.duration_seconds)
    checked = validate_spec(rt, session, spec, actor)
    if session.scalars(select(Experiment).where(Experiment.name == data.name)).first() is not None:
        raise Conflict(f"an experiment named {data.name!r} exists already", field=["name"])
    row = Experiment(
        name=data.name,
        description=data.description,
        fault_type=checked.fault.id,
        backend_id=checked.backend.id,
        params=data.params,
        selector=data.selector,
        duration_seconds=data.duration_seconds,
    )
    session.add(row)
    session.flush()
    return row


def update(
    rt: Runtime,
    session: Session,
    experiment_id: str,
    changes: dict[str, Any],
    actor: Actor | None = None,
) -> Experiment:
    row = get(session, experiment_id)
    merged = ExperimentInput(
        name=changes.get("name") or row.name,
        fault_type=changes.get("fault_type") or row.fault_type,
        backend=changes.get("backend") or row.backend.name,
        params=changes["params"] if changes.get("params") is not None else row.params,
        selector=changes["selector"] if changes.get("selector") is not None else row.selector,
        duration_seconds=changes.get("duration_seconds", row.duration_seconds),
        description=changes["description"]
        if changes.get("description") is not None
        else row.description,
    )
    backends._check_name(merged.name)
    spec = RunSpec(
        merged.fault_type, merged.backend, merged.params, merged.selector, merged.duration_seconds
    )
    checked = validate_spec(rt, session, spec, actor)
    if (
        merged.name != row.name
        and session.scalars(select(Experiment).where(Experiment.name == merged.name)).first()
    ):
        raise Conflict(f"an experiment named {merged.name!r} exists already", field=["name"])
    row.name = merged.name
    row.description = merged.description
    row.fault_type = checked.fault.id
    row.backend_id = checked.backend.id
    row.params = merged.params
    row.selector = merged.selector
    row.duration_seconds = merged.duration_seconds
    session.flush()
    return row


def delete(session: Session, experiment_id: str) -> Experiment:
    row = get(session, experiment_id)
    session.delete(row)
    session.flush()
    return row


def require_object(value: Any, field_name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{field_name} must be a JSON object", field=[field_name])
    return value
