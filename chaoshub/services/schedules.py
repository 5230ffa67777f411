"""Saving, pausing and reading schedules. Everything a schedule says is checked before it is
stored (a bad cron, zone or window is refused naming its field); what it starts is checked
again, as it is then, each time it fires (:mod:`chaoshub.schedules.firing`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from chaoshub.errors import Conflict, InvalidInput, NotFound
from chaoshub.schedules.timing import Timetable
from chaoshub.services.auth import Actor
from chaoshub.store.models import Experiment, Schedule, ScheduleFire, Workflow

POLICIES = ("forbid", "allow", "replace")
MAX_DEADLINE_SECONDS = 86400.0


@dataclass
class ScheduleInput:
    """What createSchedule and updateSchedule carry; in an update, None leaves a field be."""

    name: str | None = None
    description: str | None = None
    workflow_id: str | None = None
    experiment_id: str | None = None
    cron: str | None = None
    time_zone: str | None = None
    concurrency_policy: str | None = None
    starting_deadline_seconds: float | None = None
    blackouts: list[Any] | None = None
    enabled: bool | None = None


def timetable(row: Schedule) -> Timetable:
    return Timetable.parse(row.cron, row.time_zone, row.blackouts, anchor=row.anchor_at)


def now() -> datetime:
    return datetime.now(UTC)


def get(s: Session, schedule_id: str) -> Schedule:
    row = s.get(Schedule, schedule_id)
    if row is None:
        raise NotFound(f"no schedule with id {schedule_id!r}", field=["id"])
    return row


def _check_name(s: Session, name: str | None, own_id: str | None) -> str:
    if not isinstance(name, str) or not (1 <= len(name.strip()) <= 200):
        raise InvalidInput("a schedule needs a name of 1 to 200 characters", field=["name"])
    name = name.strip()
    other = s.scalars(select(Schedule.id).where(Schedule.name == name)).first()
    if other is not None and other != own_id:
        raise Conflict(f"a schedule named {name!r} exists already", field=["name"])
    return name


def _check_target(s: Session, workflow_id: str | None, experiment_id: str | None) -> None:
    if bool(workflow_id) == bool(experiment_id):
        raise InvalidInput(
            "a schedule starts either a saved workflow (workflowId) or a saved experiment "
            "(experimentId): give exactly one",
            field=["workflowId"],
        )
    if workflow_id and s.get(Workflow, workflow_id) is None:
        raise NotFound(f"no workflow with id {workflow_id!r}", field=["workflowId"])
    if experiment_id and s.get(Experiment, experiment_id) is None:
        raise NotFound(f"no experiment with id {experiment_id!r}", field=["experimentId"])


def _check_rules(row: Schedule) -> None:
    if row.concurrency_policy not in POLICIES:
        raise InvalidInput(
            f"concurrencyPolicy is one of {', '.join(POLICIES)}; got {row.concurrency_policy!r}",
            field=["concurrencyPolicy"],
        )
    deadline = row.starting_deadline_seconds
    if not (0 < deadline <= MAX_DEADLINE_SECONDS):
        raise InvalidInput(
            f"startingDeadlineSeconds must be more than 0 and at most {MAX_DEADLINE_SECONDS:g}",
            field=["startingDeadlineSeconds"],
        )
    if len(row.description) > 10_000:
        raise InvalidInput("description is at most 10000 characters", field=["description"])


def _apply(row: Schedule, data: ScheduleInput) -> bool:
    """Copy the given fields; True when the timetable changed."""
    before = (row.cron, row.time_zone, row.blackouts)
    for name in (
        "description",
        "cron",
        "time_zone",
        "concurrency_policy",
        "starting_deadline_seconds",
        "blackouts",
    ):
        value = getattr(data, name)
        if value is not None:
            setattr(row, name, value)
    return before != (row.cron, row.time_zone, row.blackouts)


def _replan(row: Schedule, at: datetime) -> None:
    """Count ``@every`` from now and put the next tick after now: nothing missed is fired."""
    row.anchor_at = at.replace(microsecond=0)
    row.next_fire_at = timetable(row).next_tick(at)


def create(s: Session, actor: Actor, data: ScheduleInput) -> Schedule:
    name = _check_name(s, data.name, None)
    if not data.cron:
        raise InvalidInput("a schedule needs a cron expression", field=["cron"])
    _check_target(s, data.workflow_id, data.experiment_id)
    row = Schedule(
        name=name,
        description=data.description or "",
        workflow_id=data.workflow_id or None,
        experiment_id=data.experiment_id or None,
        cron=data.cron,
        time_zone=data.time_zone or "UTC",
        concurrency_policy=data.concurrency_policy or "forbid",
        starting_deadline_seconds=(
            60.0 if data.starting_deadline_seconds is None else data.starting_deadline_seconds
        ),
        blackouts=list(data.blackouts or []),
        enabled=True if data.enabled is None else data.enabled,
        paused_reason="" if data.enabled is not False else f"created paused by {actor.name}",
        created_by=actor.name,
        created_role=actor.role,
    )
    _check_rules(row)
    checked = Timetable.parse(row.cron, row.time_zone, row.blackouts)
    row.cron = checked.cron
    _replan(row, now())
    s.add(row)
    s.flush()
    return row


def update(s: Session, actor: Actor, schedule_id: str, data: ScheduleInput) -> Schedule:
    row = get(s, schedule_id)
    if data.name is not None:
        row.name = _check_name(s, data.name, row.id)
    if data.workflow_id or data.experiment_id:
        _check_target(s, data.workflow_id, data.experiment_id)
        row.workflow_id, row.experiment_id = data.workflow_id or None, data.experiment_id or None
    changed = _apply(row, data)
    _check_rules(row)
    checked = Timetable.parse(row.cron, row.time_zone, row.blackouts)
    row.cron = checked.cron
    if data.enabled is not None and data.enabled != row.enabled:
        set_enabled(row, actor, data.enabled)
    elif changed:
        _replan(row, now())
    return row


def set_enabled(row: Schedule, actor: Actor, enabled: bool, reason: str = "") -> None:
    if enabled:
        row.enabled = True
        row.paused_reason = ""
        _replan(row, now())
    else:
        row.enabled = False
        row.paused_reason = f"paused by {actor.name}" + (f": {reason}" if reason else "")


def pause(s: Session, actor: Actor, schedule_id: str, reason: str = "") -> Schedule:
    row = get(s, schedule_id)
    if row.enabled:
        set_enabled(row, actor, False, reason)
    return row


def resume(s: Session, actor: Actor, schedule_id: str) -> Schedule:
    """Start counting again from now: ticks that passed while paused are not fired."""
    row = get(s, schedule_id)
    if not row.enabled:
        set_enabled(row, actor, True)
    return row


def delete(s: Session, schedule_id: str) -> Schedule:
    row = get(s, schedule_id)
    s.delete(row)
    return row


def pause_all(s: Session, actor: Actor, reason: str = "") -> int:
    """Pause every enabled schedule (halt-all): nothing starts a minute after the big red
    button. The count paused is returned; each says why until it is resumed."""
    said = f"paused by halt-all ({actor.name})" + (f": {reason}" if reason else "")
    result = s.execute(
        sql_update(Schedule)
        .where(Schedule.enabled.is_(True))
        .values(enabled=False, paused_reason=said, updated_at=now())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def history(s: Session, schedule_id: str, last: int = 50) -> list[ScheduleFire]:
    """The newest ``last`` ticks handled (fired, skipped, missed, refused), oldest first."""
    rows = s.scalars(
        select(ScheduleFire)
        .where(ScheduleFire.schedule_id == schedule_id)
        .order_by(ScheduleFire.scheduled_for.desc(), ScheduleFire.id.desc())
        .limit(max(1, min(last, 1000)))
    )
    return list(reversed(list(rows)))
