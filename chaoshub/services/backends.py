"""Backends: one configured instance of an adapter, config validated by the adapter."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoshub import lifecycle
from chaoshub.catalog import FaultType
from chaoshub.errors import Conflict, InvalidInput, NotFound
from chaoshub.runtime import Runtime, validate_backend_config
from chaoshub.store.models import Backend, Experiment, FaultTypeRow, Run

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def _check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name or ""):
        raise InvalidInput(
            "a name is 1-200 letters, digits, '.', '_' or '-', starting with a letter or digit",
            field=["name"],
        )
    return name


def by_name(session: Session, name: str, field: str = "backend") -> Backend:
    row = session.scalars(select(Backend).where(Backend.name == name)).one_or_none()
    if row is None:
        known = session.scalars(select(Backend.name)).all()
        import difflib

        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise NotFound(f"no backend named {name!r}{hint}", field=[field])
    return row


def get(session: Session, backend_id: str) -> Backend:
    row = session.get(Backend, backend_id)
    if row is None:
        raise NotFound(f"no backend with id {backend_id!r}", field=["id"])
    return row


def describe_into_catalog(rt: Runtime, session: Session, backend: Backend) -> int:
    """Record the fault types a self-describing backend (``http``) offers, as
    ``<adapter>/<name>``; returns how many. Raises when the server cannot be asked."""
    adapter = rt.adapter_for(session, backend)
    describe = getattr(adapter, "describe", None)
    if describe is None:
        return 0
    try:
        with adapter.translate_errors():
            answer = describe()
    finally:
        adapter.close()
    forget_described(session, backend.name)
    count = 0
    for entry in answer.get("fault_types") or []:
        name = str(entry.get("id", "")).rsplit("/", 1)[-1]
        spec = {**entry, "id": f"{backend.adapter}/{name}"}
        try:
            FaultType.from_dict(spec)
        except (jsonschema.ValidationError, jsonschema.SchemaError) as exc:
            raise InvalidInput(
                f"the server described fault {name!r} wrongly: {getattr(exc, 'message', exc)}",
                field=["config", "url"],
            ) from exc
        existing = session.get(FaultTypeRow, spec["id"])
        if existing is not None and existing.described_by not in (None, backend.name):
            continue  # the first backend to describe a fault owns its entry
        if existing is not None:
            session.delete(existing)
            session.flush()
        session.add(
            FaultTypeRow(
                id=spec["id"], adapter=backend.adapter, spec=spec, described_by=backend.name
            )
        )
        count += 1
    session.flush()
    return count


def forget_described(session: Session, backend_name: str) -> None:
    session.execute(sql_delete(FaultTypeRow).where(FaultTypeRow.described_by == backend_name))


def create(session: Session, name: str, adapter: str, config: dict[str, Any]) -> Backend:
    _check_name(name)
    if not isinstance(config, dict):
        raise InvalidInput("config must be a JSON object", field=["config"])
    validate_backend_config(adapter, config)
    if session.scalars(select(Backend).where(Backend.name == name)).first() is not None:
        raise Conflict(f"a backend named {name!r} exists already", field=["name"])
    row = Backend(name=name, adapter=adapter, config=config)
    session.add(row)
    session.flush()
    return row


def update(
    session: Session, backend_id: str, *, name: str | None, config: dict[str, Any] | None
) -> Backend:
    row = get(session, backend_id)
    if name is not None and name != row.name:
        _check_name(name)
        if session.scalars(select(Backend).where(Backend.name == name)).first() is not None:
            raise Conflict(f"a backend named {name!r} exists already", field=["name"])
    if config is not None:
        if not isinstance(config, dict):
            raise InvalidInput("config must be a JSON object", field=["config"])
        validate_backend_config(row.adapter, config)
    if name is not None:
        row.name = name
    if config is not None:
        row.config = config
    session.flush()
    return row


def delete(session: Session, backend_id: str) -> Backend:
    row = get(session, backend_id)
    active = session.scalars(
        select(Run.id).where(
            Run.backend_id == row.id, Run.phase.in_([p.value for p in lifecycle.ACTIVE])
        )
    ).first()
    if active:
        raise Conflict(f"backend {row.name!r} has an active run ({active})", field=["id"])
    used = session.scalars(select(Experiment.name).where(Experiment.backend_id == row.id)).first()
    if used:
        raise Conflict(f"experiment {used!r} uses backend {row.name!r}", field=["id"])
    forget_described(session, row.name)
    session.delete(row)
    session.flush()
    return row
