"""Starting, following, pausing and aborting threshold searches. A document is validated
whole (the tools' checks at both ends of its range included) before anything is stored; the
search's trials are then started by the beat (see :mod:`chaoshub.thresholds.driver`).

**Pausing** a search holds it between trials: no next trial starts while it is paused. A
trial under way is interrupted: its workflow run is paused (its fault recovered at once, as
any paused fault is) or, when it cannot be paused (still injecting, or a fault that cannot
pause), aborted (its fault recovered). Either way nothing stays injected while the search is
paused. The interrupted trial never counts: its samples would mix the time before the pause
with the time after it, so on **resume** its workflow run is ended (aborted, if it was only
paused), it is kept in the trials as ``interrupted``, and the same magnitude is re-run from
scratch as a new trial. A trial whose workflow run had already completed when the pause
landed counts as usual."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chaoshub.errors import HubError, IllegalTransition, NotFound
from chaoshub.lifecycle import DesiredState, Phase
from chaoshub.runtime import Runtime
from chaoshub.services import events, halting
from chaoshub.services import workflows as workflows_svc
from chaoshub.services.auth import Actor
from chaoshub.store.models import Backend, Run, ThresholdSearch, WorkflowRun
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

    def stop(row: ThresholdSearch, said: str) -> None:
        row.desired_state = DesiredState.STOP.value
        row.reasons = [*(row.reasons or []), said]
        events.record(s, "desired", said, run_id=row.id)

    return halting.stop_every_active(s, ThresholdSearch, actor, reason, stop)


INTERRUPTED_BY_PAUSE = "the threshold search was paused: this trial is re-run from scratch"


def _active(row: ThresholdSearch, action: str) -> None:
    if Phase(row.phase).terminal:
        raise IllegalTransition(
            f"cannot {action} threshold search {row.id}: it is {row.phase} already", field=["id"]
        )
    if row.desired_state == DesiredState.STOP.value:
        raise IllegalTransition(
            f"cannot {action} threshold search {row.id}: it is being stopped", field=["id"]
        )


def _pausable(rt: Runtime, s: Session, wr: WorkflowRun) -> str | None:
    """Why the workflow run's faults cannot all be paused by their adapters, if they cannot
    (the workflow engine would leave such a fault in place while paused)."""
    for step in wr.steps:
        if step.kind != "fault" or step.state != "running" or not step.run_id:
            continue
        child = s.get(Run, step.run_id)
        if child is None or Phase(child.phase).terminal:
            continue
        backend = s.get(Backend, child.backend_id) if child.backend_id else None
        if backend is not None and not rt.adapter_for(s, backend).capabilities.pause:
            return f"adapter {child.adapter} cannot pause a fault"
    return None


def interrupt(rt: Runtime, s: Session, row: ThresholdSearch) -> str | None:
    """Hold a search asked to pause: its trial's workflow run paused (or aborted when it
    cannot be), and the search ``paused``. The workflow run's id, to be sent to a worker, if
    it was asked anything."""
    woken = None
    wr = s.get(WorkflowRun, row.current_workflow_run_id) if row.current_workflow_run_id else None
    if (
        wr is not None
        and not Phase(wr.phase).terminal
        and wr.desired_state not in (DesiredState.PAUSE.value, DesiredState.STOP.value)
    ):
        actor = Actor(name=f"threshold search {row.id}", role="admin")
        try:
            if (why := _pausable(rt, s, wr)) is not None:
                raise IllegalTransition(why, field=["id"])
            workflows_svc.pause(s, actor, wr.id)
        except IllegalTransition as exc:
            workflows_svc.abort(s, actor, wr.id, f"{INTERRUPTED_BY_PAUSE} ({exc.message})")
        woken = wr.id
    if row.phase != Phase.PAUSED.value:
        row.phase = Phase.PAUSED.value
        said = "paused" + (
            f": its trial at {row.current_magnitude:g} is interrupted (workflow run {wr.id} "
            f"{'paused' if wr.desired_state == DesiredState.PAUSE.value else 'aborted'}) and "
            "re-run from scratch on resume"
            if woken is not None and wr is not None and row.current_magnitude is not None
            else ": no trial starts until it is resumed"
        )
        events.record(s, "phase", said, run_id=row.id)
    return woken


def pause(
    rt: Runtime, s: Session, actor: Actor, search_id: str
) -> tuple[ThresholdSearch, str | None]:
    """Pause a search (see the module's docstring); the id of a workflow run to be sent to a
    worker, if one was asked to pause or stop."""
    row = get(s, search_id)
    _active(row, "pause")
    if row.desired_state == DesiredState.PAUSE.value:
        return row, None
    row.desired_state = DesiredState.PAUSE.value
    events.record(s, "desired", f"pause requested by {actor.name}", run_id=row.id)
    return row, interrupt(rt, s, row)


def resume(s: Session, actor: Actor, search_id: str) -> tuple[ThresholdSearch, str | None]:
    """Resume a paused search: an interrupted trial's workflow run is ended (its samples are
    not used) and its magnitude re-run from scratch; the id of a workflow run to be sent to a
    worker, if one was asked to stop."""
    row = get(s, search_id)
    _active(row, "resume")
    if row.desired_state != DesiredState.PAUSE.value:
        raise IllegalTransition(
            f"threshold search {row.id} is not paused (desired state {row.desired_state})",
            field=["id"],
        )
    row.desired_state = DesiredState.RUN.value
    events.record(s, "desired", f"resume requested by {actor.name}", run_id=row.id)
    return row, end_interrupted(s, row)


def end_interrupted(s: Session, row: ThresholdSearch) -> str | None:
    """Abort the paused trial's workflow run of a resumed search, if it still runs."""
    wr = s.get(WorkflowRun, row.current_workflow_run_id) if row.current_workflow_run_id else None
    if wr is None or Phase(wr.phase).terminal or wr.desired_state == DesiredState.STOP.value:
        return None
    actor = Actor(name=f"threshold search {row.id}", role="admin")
    workflows_svc.abort(s, actor, wr.id, INTERRUPTED_BY_PAUSE)
    return wr.id
