"""Starting, following and aborting threshold searches. A document is validated whole (the
tools' checks at both ends of its range included) before anything is stored; the search's
trials are then started by the beat (see :mod:`chaoshub.thresholds.driver`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoshub import lifecycle
from chaoshub.errors import HubError, IllegalTransition, NotFound
from chaoshub.lifecycle import DesiredState, Phase
from chaoshub.runtime import Runtime
from chaoshub.services import events
from chaoshub.services import workflows as workflows_svc
from chaoshub.services.auth import Actor
from chaoshub.store.models import ThresholdSearch, WorkflowRun
from chaoshub.thresholds import checks
from chaoshub.thresholds.search import expected_trials
from chaoshub.workflows.document import Issues


def validate(rt: Runtime, s: Session, actor: Actor, document: Any) -> list[HubError]:
    issues = Issues()
    checks.validate(rt, s, actor, document, issues)
    return issues.items


def start(rt: Runtime, s: Session, actor: Actor, document: Any) -> ThresholdSearch:
    search = checks.validate(rt, s, actor, document)
    assert search is not None
    row = ThresholdSearch(
        name=search.name,
        document=search.document,
        created_by=actor.name,
        created_role=actor.role,
        trials=[],
        reasons=[],
    )
    s.add(row)
    s.flush()
    how = (
        f"bisection of {search.param} in [{search.low:g}, {search.high:g}] to within "
        f"{search.resolution:g}"
        if search.strategy == "bisect"
        else f"{search.param} from {search.low:g} to {search.high:g} in steps of {search.step:g}"
    )
    events.record(
        s,
        "created",
        f"threshold search {search.name} started by {actor.name}: {how}, at most "
        f"{expected_trials(search)} trials of {search.trial_seconds:g} s",
        run_id=row.id,
    )
    return row


def get(s: Session, search_id: str) -> ThresholdSearch:
    row = s.get(ThresholdSearch, search_id)
    if row is None:
        raise NotFound(f"no threshold search with id {search_id!r}", field=["id"])
    return row


def abort(
    s: Session, actor: Actor, search_id: str, reason: str = ""
) -> tuple[ThresholdSearch, str | None]:
    """Ask the search to stop, and its current trial's workflow run with it (its fault is
    recovered as in any abort); the workflow run's id, to be sent to a worker, if one was asked."""
    row = get(s, search_id)
    if Phase(row.phase).terminal:
        raise IllegalTransition(
            f"cannot abort threshold search {row.id}: it is {row.phase} already", field=["id"]
        )
    if row.desired_state == DesiredState.STOP.value:
        return row, None
    said = f"abort requested by {actor.name}" + (f": {reason}" if reason else "")
    row.desired_state = DesiredState.STOP.value
    row.reasons = [*(row.reasons or []), said]
    events.record(s, "desired", said, run_id=row.id)
    woken = None
    if row.current_workflow_run_id:
        wr = s.get(WorkflowRun, row.current_workflow_run_id)
        if (
            wr is not None
            and not Phase(wr.phase).terminal
            and wr.desired_state != DesiredState.STOP.value
        ):
            workflows_svc.abort(s, actor, wr.id, f"threshold search {row.id} aborted")
            woken = wr.id
    return row, woken


def halt_all(s: Session, actor: Actor, reason: str = "") -> list[ThresholdSearch]:
    """Ask every active search to stop (halt-all stops their trials' workflow runs itself)."""
    rows = s.scalars(
        select(ThresholdSearch).where(
            ThresholdSearch.phase.in_([p.value for p in lifecycle.ACTIVE]),
            ThresholdSearch.desired_state != DesiredState.STOP.value,
        )
    ).all()
    said = f"halt-all by {actor.name}" + (f": {reason}" if reason else "")
    for row in rows:
        row.desired_state = DesiredState.STOP.value
        row.reasons = [*(row.reasons or []), said]
        events.record(s, "desired", said, run_id=row.id)
    return list(rows)
