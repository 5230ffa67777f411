"""Schedules: save a timetable for a workflow or an experiment, pause and resume it, see its
next fire times and what each tick became."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoshub.api.resolvers import Outcome, mutate, plain, read
from chaoshub.api.types.common import Deleted, DeleteResult, JSONValue, error_from
from chaoshub.api.types.schedules import FireTimes, FireTimesResult, Schedule, ScheduleResult
from chaoshub.errors import HubError, InvalidInput
from chaoshub.schedules.timing import Timetable
from chaoshub.services import schedules as svc
from chaoshub.services.auth import Actor
from chaoshub.store import models


@strawberry.input(description="A new schedule: what it starts (one of workflowId, experimentId)")
class CreateScheduleInput:
    name: str
    cron: str = strawberry.field(
        description="5 cron fields, @hourly/@daily/@weekly/@monthly/@yearly, or @every 90s"
    )
    workflow_id: strawberry.ID | None = None
    experiment_id: strawberry.ID | None = None
    time_zone: str = strawberry.field(default="UTC", description="an IANA name: Europe/Paris")
    concurrency_policy: str = strawberry.field(
        default="forbid", description="forbid (skip while the previous is active) | allow | replace"
    )
    starting_deadline_seconds: float = strawberry.field(
        default=60.0, description="a start missed by more than this is skipped, not made up"
    )
    blackouts: JSONValue | None = strawberry.field(
        default=None,
        description='no start inside: [{"days": ["sat", "sun"]}, {"start": "22:00", "end": '
        '"06:00"}], in the schedule\'s time zone',
    )
    enabled: bool = True
    description: str = ""


@strawberry.input(description="Change a schedule; a field left out is kept")
class UpdateScheduleInput:
    id: strawberry.ID
    name: str | None = None
    cron: str | None = None
    workflow_id: strawberry.ID | None = None
    experiment_id: strawberry.ID | None = None
    time_zone: str | None = None
    concurrency_policy: str | None = None
    starting_deadline_seconds: float | None = None
    blackouts: JSONValue | None = None
    enabled: bool | None = None
    description: str | None = None


def _blackouts(value: Any) -> list[Any] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidInput("blackouts must be a list of windows", field=["blackouts"])
    return value


def _data(i: CreateScheduleInput | UpdateScheduleInput) -> svc.ScheduleInput:
    return svc.ScheduleInput(
        name=i.name,
        description=i.description,
        workflow_id=str(i.workflow_id) if i.workflow_id else None,
        experiment_id=str(i.experiment_id) if i.experiment_id else None,
        cron=i.cron,
        time_zone=i.time_zone,
        concurrency_policy=i.concurrency_policy,
        starting_deadline_seconds=i.starting_deadline_seconds,
        blackouts=_blackouts(i.blackouts),
        enabled=i.enabled,
    )


@strawberry.type
class ScheduleQuery:
    @strawberry.field(description="Every schedule, by name")
    async def schedules(self, info: strawberry.Info) -> list[Schedule]:
        return await read(
            info,
            lambda s, _a: [
                Schedule.build(s, r)
                for r in s.scalars(select(models.Schedule).order_by(models.Schedule.name))
            ],
        )

    @strawberry.field
    async def schedule(self, info: strawberry.Info, id: strawberry.ID) -> Schedule | None:
        def q(s: Session, _a: Actor) -> Schedule | None:
            row = s.get(models.Schedule, str(id))
            return Schedule.build(s, row) if row is not None else None

        return await read(info, q)

    @strawberry.field(
        description="The next `count` (1..100) starts of a saved schedule (id) or of a "
        "timetable not saved yet (cron, timeZone, blackouts), blackout windows left out"
    )
    async def next_fire_times(
        self,
        info: strawberry.Info,
        id: strawberry.ID | None = None,
        cron: str | None = None,
        time_zone: str = "UTC",
        blackouts: JSONValue | None = None,
        count: int = 5,
    ) -> FireTimesResult:
        def q(s: Session, _a: Actor) -> Any:
            try:
                if not (1 <= count <= 100):
                    raise InvalidInput("count is 1 to 100", field=["count"])
                if id:
                    table = svc.timetable(svc.get(s, str(id)))
                elif cron:
                    table = Timetable.parse(cron, time_zone, _blackouts(blackouts))
                else:
                    raise InvalidInput("give a schedule's id, or a cron expression", field=["id"])
            except HubError as exc:
                return error_from(exc)
            return FireTimes(times=table.fire_times(datetime.now(UTC), count))

        return await read(info, q)


def _saved(s: Session, row: models.Schedule) -> Outcome:
    s.flush()
    return Outcome(Schedule.build(s, row), subject=row.name)


@strawberry.type
class ScheduleMutation:
    @strawberry.mutation(description="Save a schedule; it fires as the one who saved it")
    async def create_schedule(
        self, info: strawberry.Info, input: CreateScheduleInput
    ) -> ScheduleResult:
        return await mutate(
            info,
            "createSchedule",
            "operator",
            plain(input),
            lambda s, a: _saved(s, svc.create(s, a, _data(input))),
        )

    @strawberry.mutation(
        description="Change a schedule; a new timetable counts from now (nothing missed fires)"
    )
    async def update_schedule(
        self, info: strawberry.Info, input: UpdateScheduleInput
    ) -> ScheduleResult:
        return await mutate(
            info,
            "updateSchedule",
            "operator",
            plain(input),
            lambda s, a: _saved(s, svc.update(s, a, str(input.id), _data(input))),
        )

    @strawberry.mutation(description="Delete a schedule and its history (its runs stay)")
    async def delete_schedule(self, info: strawberry.Info, id: strawberry.ID) -> DeleteResult:
        def fn(s: Session, _a: Actor) -> Outcome:
            row = svc.delete(s, str(id))
            return Outcome(Deleted(id=strawberry.ID(row.id)), subject=row.name)

        return await mutate(info, "deleteSchedule", "operator", {"id": str(id)}, fn)

    @strawberry.mutation(description="Stop a schedule from starting anything until resumed")
    async def pause_schedule(
        self, info: strawberry.Info, id: strawberry.ID, reason: str = ""
    ) -> ScheduleResult:
        return await mutate(
            info,
            "pauseSchedule",
            "operator",
            {"id": str(id), "reason": reason},
            lambda s, a: _saved(s, svc.pause(s, a, str(id), reason)),
        )

    @strawberry.mutation(
        description="Let a paused schedule fire again, from its next tick after now"
    )
    async def resume_schedule(self, info: strawberry.Info, id: strawberry.ID) -> ScheduleResult:
        return await mutate(
            info,
            "resumeSchedule",
            "operator",
            {"id": str(id)},
            lambda s, a: _saved(s, svc.resume(s, a, str(id))),
        )


__all__ = ["ScheduleMutation", "ScheduleQuery"]
