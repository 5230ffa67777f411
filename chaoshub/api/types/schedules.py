"""GraphQL types of schedules: the timetable, what it starts, and what each tick became."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Union

import strawberry
from sqlalchemy.orm import Session

from chaoshub.api.types.common import ERRORS, JSONValue
from chaoshub.errors import HubError
from chaoshub.services import schedules as svc
from chaoshub.store import models


@strawberry.type(description="One tick of a schedule and what became of it")
class ScheduleFire:
    at: datetime = strawberry.field(description="when the hub handled the tick")
    scheduled_for: datetime = strawberry.field(description="the tick")
    outcome: str = strawberry.field(
        description="fired | skipped (blackout, or concurrencyPolicy forbid) | missed (later "
        "than startingDeadlineSeconds) | refused (the start was refused) | firing (being "
        "started)"
    )
    reason: str
    workflow_run_id: str | None
    run_id: str | None

    @classmethod
    def build(cls, row: models.ScheduleFire) -> ScheduleFire:
        return cls(
            at=row.at,
            scheduled_for=row.scheduled_for,
            outcome=row.outcome,
            reason=row.reason,
            workflow_run_id=row.workflow_run_id,
            run_id=row.run_id,
        )


@strawberry.type(
    description="A saved workflow or experiment started on a cron timetable in a time zone"
)
class Schedule:
    id: strawberry.ID
    name: str
    description: str
    workflow_id: str | None
    experiment_id: str | None
    target_name: str | None = strawberry.field(
        description="the name of the workflow or experiment it starts (null: deleted)"
    )
    cron: str
    time_zone: str
    concurrency_policy: str = strawberry.field(description="forbid | allow | replace")
    starting_deadline_seconds: float
    blackouts: JSONValue
    enabled: bool
    paused_reason: str
    next_fire_at: datetime | None = strawberry.field(
        description="the next tick the beat will handle (it may fall in a blackout window)"
    )
    created_by: str
    created_at: datetime
    updated_at: datetime
    row: strawberry.Private[models.Schedule]

    @classmethod
    def build(cls, s: Session, row: models.Schedule) -> Schedule:
        target: models.Workflow | models.Experiment | None = None
        if row.workflow_id:
            target = s.get(models.Workflow, row.workflow_id)
        elif row.experiment_id:
            target = s.get(models.Experiment, row.experiment_id)
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            description=row.description,
            workflow_id=row.workflow_id,
            experiment_id=row.experiment_id,
            target_name=target.name if target is not None else None,
            cron=row.cron,
            time_zone=row.time_zone,
            concurrency_policy=row.concurrency_policy,
            starting_deadline_seconds=row.starting_deadline_seconds,
            blackouts=row.blackouts or [],
            enabled=row.enabled,
            paused_reason=row.paused_reason,
            next_fire_at=row.next_fire_at,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )

    @strawberry.field(description="The next `count` (1..100) starts, blackout windows left out")
    def next_fire_times(self, count: int = 5) -> list[datetime]:
        try:
            table = svc.timetable(self.row)
        except HubError:
            return []
        return table.fire_times(datetime.now(UTC), max(1, min(count, 100)))

    @strawberry.field(
        description="The newest `last` (1..1000) ticks handled, oldest first: what fired, what "
        "was skipped or missed, and why"
    )
    async def history(self, info: strawberry.Info, last: int = 50) -> list[ScheduleFire]:
        from chaoshub.api.resolvers import read

        schedule_id = str(self.id)

        def q(s: Session, _a: object) -> list[ScheduleFire]:
            return [ScheduleFire.build(r) for r in svc.history(s, schedule_id, last)]

        return await read(info, q)


@strawberry.type(description="When a timetable starts next")
class FireTimes:
    times: list[datetime]


ScheduleResult = Annotated[Union[Schedule, ERRORS], strawberry.union("ScheduleResult")]  # noqa: UP007
FireTimesResult = Annotated[Union[FireTimes, ERRORS], strawberry.union("FireTimesResult")]  # noqa: UP007
