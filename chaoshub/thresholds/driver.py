"""The threshold-search driver: a beat task that moves every active search one pass along.

A search waits most of its time for its current trial's workflow run (which the workflow
driver moves), so nothing stays resident: each beat, every active search whose lease is
free is claimed (:class:`~chaoshub.execution.lease.Lease`, as a workflow run's) and given
one pass, in one transaction:

- while the current trial's workflow run is active, nothing (an abort asked of the search
  is passed on to it, and a pause: see :mod:`chaoshub.services.thresholds`);
- an inconclusive trial (its fault never in place, or no sample in its window, as when the
  worker sampling it was killed) is run again, up to :data:`MAX_INCONCLUSIVE` in a row;
- a paused search starts no trial; a trial it interrupted is kept as ``interrupted`` (never
  counted) and its magnitude re-run from scratch once the search is resumed;
- once it has ended, its samples are evaluated (:mod:`.trials`) and the trial is appended
  to the stored trials; then the next magnitude is decided (:mod:`.search`) and its
  workflow run is created, its id stored on the search in the same commit, or the search
  ends with its result.

All progress is stored, and a pass decides from what is stored only; a worker killed
mid-pass rolls the pass back whole, and the next beat does it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from chaoshub import lifecycle
from chaoshub.errors import HubError
from chaoshub.execution.driver import worker_name
from chaoshub.execution.lease import Lease
from chaoshub.execution.reconciler import WORKFLOW
from chaoshub.lifecycle import DesiredState, Phase
from chaoshub.runtime import Runtime
from chaoshub.services import events
from chaoshub.services import thresholds as thresholds_svc
from chaoshub.services import workflows as workflows_svc
from chaoshub.services.auth import Actor
from chaoshub.store.models import ThresholdSearch, WorkflowRun
from chaoshub.thresholds.document import ThresholdSearch as SearchDoc
from chaoshub.thresholds.document import parse_search
from chaoshub.thresholds.search import next_magnitude, result
from chaoshub.thresholds.trials import (
    INCONCLUSIVE,
    INTERRUPTED,
    STOPPED,
    evaluate,
    workflow_document,
)

log = logging.getLogger("chaoshub.thresholds")

Dispatch = Callable[[str, str, str], None]
#: an inconclusive trial (the fault never in place, no sample in its window: e.g. the worker
#: sampling it was killed) is run again; this many in a row at one magnitude fail the search
MAX_INCONCLUSIVE = 2


def _inconclusive_run(trials: list[dict[str, Any]]) -> int:
    """How many trials at the end of ``trials``, at the last one's magnitude, were
    inconclusive in a row."""
    n = 0
    for trial in reversed(trials):
        if trial.get("outcome") != INCONCLUSIVE or trial.get("magnitude") != trials[-1].get(
            "magnitude"
        ):
            break
        n += 1
    return n


def now() -> datetime:
    return datetime.now(UTC)


def advance_all(rt: Runtime, dispatch: Dispatch) -> int:
    """One pass over every active search no live worker holds; how many were advanced."""
    at = now()
    with rt.session() as s:
        ids = list(
            s.scalars(
                select(ThresholdSearch.id).where(
                    ThresholdSearch.phase.in_([p.value for p in lifecycle.ACTIVE]),
                    or_(ThresholdSearch.worker.is_(None), ThresholdSearch.lease_until < at),
                )
            )
        )
    done = 0
    for search_id in ids:
        try:
            done += advance(rt, search_id, dispatch)
        except Exception:  # one broken search must not hold up the others
            log.exception(
                "threshold search %s: a pass failed; the next beat tries again", search_id
            )
    return done


def advance(rt: Runtime, search_id: str, dispatch: Dispatch, worker: str | None = None) -> bool:
    lease = Lease(rt, ThresholdSearch, search_id, worker or worker_name())
    if not lease.claim():
        return False
    hooks: list[Callable[[], None]] = []
    try:
        with lease.renewed(), rt.session() as s:
            row = s.get(ThresholdSearch, search_id)
            if row is not None and not Phase(row.phase).terminal:
                _pass(rt, s, row, dispatch, hooks)
    finally:
        lease.release()
    for hook in hooks:
        try:
            hook()
        except Exception as exc:  # the reconciler sends a workflow run nobody drives
            log.warning("threshold search %s: after-commit step failed: %s", search_id, exc)
    rt.publish_run(search_id)
    return True


def _pass(
    rt: Runtime,
    s: Session,
    row: ThresholdSearch,
    dispatch: Dispatch,
    hooks: list[Callable[[], None]],
) -> None:
    search = parse_search(row.document)
    assert search is not None
    stopping = row.desired_state == DesiredState.STOP.value
    pausing = row.desired_state == DesiredState.PAUSE.value
    if row.current_workflow_run_id:
        wr = s.get(WorkflowRun, row.current_workflow_run_id)
        if wr is not None and not Phase(wr.phase).terminal:
            woken: str | None = None
            if stopping and wr.desired_state != DesiredState.STOP.value:
                actor = Actor(name=f"threshold search {row.id}", role="admin")
                workflows_svc.abort(s, actor, wr.id, f"threshold search {row.id} aborted")
                woken = wr.id
            elif pausing:
                woken = thresholds_svc.interrupt(rt, s, row)
            elif row.phase == Phase.PAUSED.value:
                # resumed: the interrupted trial's workflow run ends, its samples unused
                woken = thresholds_svc.end_interrupted(s, row)
            if woken is not None:
                wake = woken
                hooks.append(lambda: dispatch(wake, WORKFLOW, "workflow"))
            return
        # a trial whose workflow run ended while the search was paused was interrupted by
        # the pause, unless it had completed first
        interrupted = row.phase == Phase.PAUSED.value and (
            wr is None or wr.phase != Phase.COMPLETED.value
        )
        trial = {
            "magnitude": row.current_magnitude,
            "workflowRunId": row.current_workflow_run_id,
            "startedAt": row.current_started_at.isoformat() if row.current_started_at else None,
            "endedAt": (wr.ended_at or now()).isoformat() if wr is not None else None,
            **(
                {"outcome": INTERRUPTED, "reason": thresholds_svc.INTERRUPTED_BY_PAUSE}
                if interrupted
                else evaluate(s, search, wr)
            ),
        }
        row.trials = [*(row.trials or []), trial]
        row.current_workflow_run_id = None
        row.current_magnitude = None
        row.current_started_at = None
        events.record(
            s,
            "trial",
            f"{search.param}={trial['magnitude']:g}: {trial['outcome']}: {trial['reason']}",
            run_id=row.id,
            data={"workflowRunId": trial["workflowRunId"]},
        )
        if trial["outcome"] == STOPPED:
            _finish(s, row, search, Phase.ABORTED, f"the search was stopped: {trial['reason']}")
            return
        if not interrupted and wr is not None and wr.phase == Phase.ABORTED.value and not stopping:
            # halt-all, or a person aborting the trial itself: the search stops with it
            _finish(
                s,
                row,
                search,
                Phase.ABORTED,
                f"its trial's workflow run {wr.id} was aborted: " + "; ".join(wr.reasons or []),
            )
            return
        if trial["outcome"] == INCONCLUSIVE and not stopping:
            tries = _inconclusive_run(list(row.trials))
            if tries >= MAX_INCONCLUSIVE:
                _finish(
                    s,
                    row,
                    search,
                    Phase.FAILED,
                    f"the trial at {search.param}={trial['magnitude']:g} was inconclusive "
                    f"{tries} times in a row: {trial['reason']}",
                )
                return
            # e.g. its worker was killed while it sampled: the magnitude is tried again
            events.record(
                s,
                "trial",
                f"{search.param}={trial['magnitude']:g} is tried again: its trial was inconclusive",
                run_id=row.id,
            )
    if stopping:
        _finish(s, row, search, Phase.ABORTED, "aborted on request")
        return
    if pausing:
        thresholds_svc.interrupt(rt, s, row)  # no trial runs: the search is paused
        return
    if row.phase == Phase.PAUSED.value:
        row.phase = Phase.RUNNING.value
        events.record(s, "phase", "resumed: the next trial starts", run_id=row.id)
    magnitude = next_magnitude(search, list(row.trials or []))
    if magnitude is None:
        _finish(s, row, search, Phase.COMPLETED, "decided")
        return
    actor = Actor(name=row.created_by or "threshold search", role=row.created_role or "operator")
    try:
        wr = workflows_svc.start_unsaved(rt, s, actor, workflow_document(search, magnitude, row.id))
    except HubError as exc:
        _finish(
            s,
            row,
            search,
            Phase.FAILED,
            f"the trial at {search.param}={magnitude:g} could not start: {exc}",
        )
        return
    if Phase(row.phase) is Phase.PENDING:
        row.phase = Phase.RUNNING.value
    row.current_workflow_run_id = wr.id
    row.current_magnitude = magnitude
    row.current_started_at = now()
    events.record(
        s,
        "trial",
        f"trial {len(row.trials or []) + 1}: {search.param}={magnitude:g} (workflow run {wr.id})",
        run_id=row.id,
        data={"workflowRunId": wr.id},
    )
    run_id = wr.id
    hooks.append(lambda: dispatch(run_id, WORKFLOW, "workflow"))


def _finish(s: Session, row: ThresholdSearch, search: SearchDoc, phase: Phase, why: str) -> None:
    row.result = result(search, list(row.trials or []))
    row.reasons = [*(row.reasons or []), why, row.result["message"]]
    row.phase = phase.value
    row.ended_at = now()
    events.record(s, "phase", f"{phase.value}: {why}; {row.result['message']}", run_id=row.id)
