"""Halt-all's step for one kind of active thing: each one not yet asked to stop is asked."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoshub import lifecycle
from chaoshub.lifecycle import DesiredState
from chaoshub.services.auth import Actor
from chaoshub.store.models import Run, ThresholdSearch, WorkflowRun

M = TypeVar("M", Run, WorkflowRun, ThresholdSearch)


def stop_every_active(
    s: Session, model: type[M], actor: Actor, reason: str, stop: Callable[[M, str], None]
) -> list[M]:
    """Call ``stop`` with what halt-all says on every active ``model`` row not already being
    stopped; those rows."""
    rows = s.scalars(
        select(model).where(
            model.phase.in_([p.value for p in lifecycle.ACTIVE]),
            model.desired_state != DesiredState.STOP.value,
        )
    ).all()
    said = f"halt-all by {actor.name}" + (f": {reason}" if reason else "")
    for row in rows:
        stop(row, said)
    return list(rows)
