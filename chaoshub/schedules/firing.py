"""The beat task that starts what schedules say, each tick exactly once.

Several beat processes may run (or one beat's ticks may pile up behind a slow worker), so
passes of this task race. They agree because:

- a tick is claimed by inserting its ``schedule_fires`` row, unique per (schedule, tick):
  the INSERT that commits first owns the tick, every other one fails and moves on;
- a schedule's ``next_fire_at`` only moves forward, and every pass derives the same ticks
  from it and the schedule's timetable.

A pass that comes to a schedule late (the hub was down, no beat ran) does not make up for
lost time: every tick older than ``startingDeadlineSeconds`` is recorded once as ``missed``
(one row for the whole stretch), and of the ticks within the deadline only the latest may
fire. A tick inside a blackout window is recorded as ``skipped``. The concurrency policy is
applied to the tick that fires: ``forbid`` records it as ``skipped`` while a run it started
earlier is still active, ``allow`` starts it anyway, ``replace`` asks the active ones to
stop (as an abort does: their faults are recovered) and starts the new one at once. A start
the hub refuses (the backend is gone, the selector matches nothing, the workflow was
deleted) is recorded as ``refused`` with the reason and is not tried again; the next tick
tries afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chaoshub import lifecycle
from chaoshub.errors import HubError
from chaoshub.execution.reconciler import WORKFLOW
from chaoshub.runtime import Runtime
from chaoshub.services import events
from chaoshub.services import runs as runs_svc
from chaoshub.services import workflows as workflows_svc
from chaoshub.services.auth import Actor
from chaoshub.services.schedules import timetable
from chaoshub.store.models import Run, Schedule, ScheduleFire, WorkflowRun

log = logging.getLogger("chaoshub.schedules")

#: sends a run to a worker: (run id, adapter, reason)
Dispatch = Callable[[str, str, str], None]

ACTIVE = [p.value for p in lifecycle.ACTIVE]


@dataclass(frozen=True)
class Due:
    """What one pass decided for one schedule, read in one transaction."""

    schedule_id: str
    name: str
    missed_from: datetime | None
    missed_until: datetime | None
    latest: datetime | None
    next_at: datetime
    blackout: str | None
    deadline: float


def fire_due(rt: Runtime, dispatch: Dispatch, at: datetime | None = None) -> int:
    """Handle every enabled schedule with a tick due at ``at`` (now); the number of ticks
    this pass claimed (fired, skipped, missed or refused)."""
    at = (at or datetime.now(UTC)).astimezone(UTC)
    with rt.session() as s:
        ids = list(
            s.scalars(
                select(Schedule.id).where(Schedule.enabled.is_(True), Schedule.next_fire_at <= at)
            )
        )
    claimed = 0
    for schedule_id in ids:
        try:
            claimed += fire_schedule(rt, dispatch, schedule_id, at)
        except Exception:  # one broken schedule must not hold up the others
            log.exception("schedule %s could not be fired", schedule_id)
    return claimed


def _plan(rt: Runtime, schedule_id: str, at: datetime) -> Due | None:
    with rt.session() as s:
        row = s.get(Schedule, schedule_id)
        if row is None or not row.enabled or row.next_fire_at is None or row.next_fire_at > at:
            return None
        table = timetable(row)
        first = row.next_fire_at
        horizon = at - timedelta(seconds=row.starting_deadline_seconds)
        latest: datetime | None = None
        if first >= horizon:
            latest = first
        for tick in table.ticks(max(first, horizon) - timedelta(microseconds=1)):
            if tick > at:
                break
            latest = tick
        missed_from = first if latest is None or first < latest else None
        missed_until = None
        if missed_from is not None:
            missed_until = latest - timedelta(microseconds=1) if latest else horizon
        hit = table.blackout(latest) if latest is not None else None
        return Due(
            schedule_id=row.id,
            name=row.name,
            missed_from=missed_from,
            missed_until=missed_until,
            latest=latest,
            next_at=table.next_tick(at),
            blackout=hit.describe() if hit else None,
            deadline=row.starting_deadline_seconds,
        )


def _claim(rt: Runtime, schedule_id: str, tick: datetime, outcome: str, reason: str) -> int | None:
    """Insert the tick's row; its id, or None when another pass owns the tick already."""
    try:
        with rt.session() as s:
            fire = ScheduleFire(
                schedule_id=schedule_id, scheduled_for=tick, outcome=outcome, reason=reason
            )
            s.add(fire)
            s.flush()
            return fire.id
    except IntegrityError:
        return None


def _advance(rt: Runtime, schedule_id: str, next_at: datetime) -> None:
    with rt.session() as s:
        s.execute(
            update(Schedule)
            .where(Schedule.id == schedule_id, Schedule.next_fire_at < next_at)
            .values(next_fire_at=next_at)
        )


def fire_schedule(rt: Runtime, dispatch: Dispatch, schedule_id: str, at: datetime) -> int:
    due = _plan(rt, schedule_id, at)
    if due is None:
        return 0
    claimed = 0
    if due.missed_from is not None and due.missed_until is not None:
        said = (
            f"missed: no start was made for the ticks from {due.missed_from:%Y-%m-%d %H:%M:%S}Z "
            f"to {due.missed_until:%Y-%m-%d %H:%M:%S}Z (the hub was not firing schedules); "
            + (
                f"only the latest tick, {due.latest:%H:%M:%S}Z, is within the start deadline"
                if due.latest is not None
                else f"each is more than startingDeadlineSeconds ({due.deadline:g}s) late"
            )
            + f", found at {at:%Y-%m-%d %H:%M:%S}Z"
        )
        if _claim(rt, schedule_id, due.missed_from, "missed", said) is not None:
            claimed += 1
            log.warning("schedule %s: %s", due.name, said)
    fire_id: int | None = None
    if due.latest is not None:
        if due.blackout is not None:
            said = f"skipped: inside the blackout window {due.blackout}"
            claimed += _claim(rt, schedule_id, due.latest, "skipped", said) is not None
        else:
            fire_id = _claim(rt, schedule_id, due.latest, "firing", "")
            claimed += fire_id is not None
    _advance(rt, schedule_id, due.next_at)
    if fire_id is not None and due.latest is not None:
        _start(rt, dispatch, schedule_id, fire_id, due.latest)
    return claimed


def _start(rt: Runtime, dispatch: Dispatch, schedule_id: str, fire_id: int, tick: datetime) -> None:
    """Apply the concurrency policy and start the tick's run, recording what happened."""
    hooks: list[Callable[[], None]] = []
    try:
        with rt.session() as s:
            row = s.get(Schedule, schedule_id)
            fire = s.get(ScheduleFire, fire_id)
            assert row is not None and fire is not None
            actor = Actor(name=row.created_by, role=row.created_role)
            flows, runs = _active(s, schedule_id)
            if flows or runs:
                names = ", ".join([f"workflow run {w.id}" for w in flows] + [r.id for r in runs])
                if row.concurrency_policy == "forbid":
                    fire.outcome = "skipped"
                    fire.reason = (
                        f"skipped: the previous start is still active ({names}); "
                        "concurrencyPolicy forbid"
                    )
                    return
                if row.concurrency_policy == "replace":
                    said = f"replaced by schedule {row.name}'s tick {tick:%H:%M:%S}Z"
                    for w in flows:
                        workflows_svc.abort(s, actor, w.id, said)
                        hooks.append(partial(dispatch, w.id, WORKFLOW, "workflow"))
                    for r in runs:
                        runs_svc.abort(s, actor, r.id, said)
                        hooks.append(partial(dispatch, r.id, r.adapter, "recover"))
                    fire.reason = f"replaced {names}"
            note = f"started by schedule {row.name} for its {tick:%Y-%m-%d %H:%M:%S}Z tick"
            if row.workflow_id:
                flow = workflows_svc.start(rt, s, actor, workflow_id=row.workflow_id)
                s.flush()
                fire.workflow_run_id = flow.id
                events.record(s, "scheduled", note, run_id=flow.id)
                hooks.append(partial(dispatch, flow.id, WORKFLOW, "workflow"))
                started = flow.id
            else:
                assert row.experiment_id is not None
                run = runs_svc.start_from_experiment(rt, s, actor, row.experiment_id)
                s.flush()
                fire.run_id = run.id
                events.record(s, "scheduled", note, run_id=run.id)
                hooks.append(partial(dispatch, run.id, run.adapter, "inject"))
                started = run.id
            fire.outcome = "fired"
            hooks.append(partial(rt.publish_run, started))
            log.info("schedule %s fired", row.name, extra={"run": started, "tick": str(tick)})
    except HubError as exc:
        _refused(rt, fire_id, f"refused: {exc}")
        return
    except Exception as exc:
        _refused(rt, fire_id, f"refused: the hub failed to start it: {exc}")
        raise
    for hook in hooks:
        try:
            hook()
        except Exception as exc:  # stored; the reconciler sends it
            log.warning("after a schedule fired: %s", exc)


def _refused(rt: Runtime, fire_id: int, reason: str) -> None:
    with rt.session() as s:
        fire = s.get(ScheduleFire, fire_id)
        if fire is not None:
            fire.outcome = "refused"
            fire.reason = reason
    log.warning("schedule fire %s %s", fire_id, reason)


def _active(s: Session, schedule_id: str) -> tuple[list[WorkflowRun], list[Run]]:
    """The runs this schedule started that have not ended."""
    started = select(ScheduleFire.workflow_run_id).where(
        ScheduleFire.schedule_id == schedule_id, ScheduleFire.workflow_run_id.is_not(None)
    )
    flows = s.scalars(
        select(WorkflowRun).where(WorkflowRun.id.in_(started), WorkflowRun.phase.in_(ACTIVE))
    ).all()
    started_runs = select(ScheduleFire.run_id).where(
        ScheduleFire.schedule_id == schedule_id, ScheduleFire.run_id.is_not(None)
    )
    runs = s.scalars(select(Run).where(Run.id.in_(started_runs), Run.phase.in_(ACTIVE))).all()
    return list(flows), list(runs)
