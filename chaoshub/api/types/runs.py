"""Run types: a run with its targets and metric samples, its Relay connection, halt-all."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Union

import strawberry

from chaoshub.api.types.common import ERRORS, Edge, JSONValue, PageInfo, decode_cursor
from chaoshub.api.types.events import Event
from chaoshub.errors import InvalidInput
from chaoshub.store import models


@strawberry.type(description="What happened to one target of a run")
class TargetRecord:
    index: int
    target_id: str
    label: str
    attributes: JSONValue
    phase: str
    may_carry_fault: bool
    native_status: str
    metrics: JSONValue
    messages: list[str]
    error: str | None
    handle: JSONValue | None
    injected_at: datetime | None
    recovered_at: datetime | None

    @classmethod
    def build(cls, row: models.RunTarget) -> TargetRecord:
        return cls(
            index=row.index,
            target_id=row.target_id,
            label=row.label,
            attributes=row.attributes or {},
            phase=row.phase,
            may_carry_fault=row.may_carry_fault,
            native_status=row.native_status,
            metrics=row.metrics or {},
            messages=[str(m) for m in row.messages or []],
            error=row.error,
            handle=row.handle,
            injected_at=row.injected_at,
            recovered_at=row.recovered_at,
        )


@strawberry.type(description="What the tool reported for one target at one moment")
class MetricSample:
    target_index: int
    target: str = strawberry.field(description="the target's label")
    at: datetime
    values: JSONValue = strawberry.field(description="metric name -> value")

    @classmethod
    def build(cls, row: models.RunMetricSample, label: str) -> MetricSample:
        return cls(target_index=row.target_index, target=label, at=row.at, values=row.values)


@strawberry.type(
    description="One execution of a fault: phase, desired state, verdict, targets, events"
)
class Run:
    id: strawberry.ID
    phase: str
    desired_state: str
    verdict: str
    ending: str | None
    fault_type: str
    adapter: str
    time_control: str
    reversible: bool
    backend: str
    experiment_id: str | None
    workflow_run_id: str | None = strawberry.field(
        description="the workflow run this run is a fault step of"
    )
    workflow_step_id: str | None = strawberry.field(description="that step's id")
    params: JSONValue
    selector: JSONValue
    duration_seconds: float | None
    error: str | None
    archived: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    running_since: datetime | None
    deadline: datetime | None
    ended_at: datetime | None
    recover_attempts: int
    next_attempt_at: datetime | None
    targets: list[TargetRecord]

    @strawberry.field(
        description="True while the run is recovering and recovery has failed at least once"
    )
    def stuck(self) -> bool:
        return self.phase == "recovering" and self.recover_attempts > 0

    @strawberry.field(description="The run's events, oldest first")
    async def events(self, info: strawberry.Info, last: int = 200) -> list[Event]:
        from chaoshub.api.resolvers import run_events

        return await run_events(info, str(self.id), last)

    @strawberry.field(
        description="The tool's reported values over time, oldest first: the latest `last` "
        "samples (1..2000), only those after `since` if given"
    )
    async def metric_samples(
        self, info: strawberry.Info, since: datetime | None = None, last: int = 500
    ) -> list[MetricSample]:
        from chaoshub.api.resolvers import run_metric_samples

        labels = {t.index: t.label for t in self.targets}
        return await run_metric_samples(info, str(self.id), labels, since, last)

    @classmethod
    def build(cls, row: models.Run) -> Run:
        return cls(
            id=strawberry.ID(row.id),
            phase=row.phase,
            desired_state=row.desired_state,
            verdict=row.verdict,
            ending=row.ending,
            fault_type=row.fault_type,
            adapter=row.adapter,
            time_control=row.time_control,
            reversible=row.reversible,
            backend=row.backend_name,
            experiment_id=row.experiment_id,
            workflow_run_id=row.workflow_run_id,
            workflow_step_id=row.workflow_step_id,
            params=row.params or {},
            selector=row.selector or {},
            duration_seconds=row.duration_seconds,
            error=row.error,
            archived=row.archived,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            started_at=row.started_at,
            running_since=row.running_since,
            deadline=row.deadline,
            ended_at=row.ended_at,
            recover_attempts=row.recover_attempts,
            next_attempt_at=row.next_attempt_at,
            targets=[TargetRecord.build(t) for t in row.targets],
        )


@strawberry.type(description="What halt-all stopped")
class HaltAllResult:
    count: int
    runs: list[Run]
    workflow_run_count: int = strawberry.field(
        default=0, description="workflow runs stopped (each stops its own steps)"
    )
    schedule_count: int = strawberry.field(
        default=0,
        description="schedules paused (each says so in pausedReason until it is resumed)",
    )


@strawberry.type
class RunConnection:
    edges: list[Edge[Run]]
    page_info: PageInfo
    total_count: int


def run_cursor(cursor: str, field: str = "after") -> tuple[datetime, str]:
    """A runs cursor: the created time and id of the last run of the previous page."""
    at, sep, run_id = decode_cursor(cursor, field).partition("|")
    try:
        if not sep or not run_id:
            raise ValueError(cursor)
        return datetime.fromisoformat(at), run_id
    except ValueError:
        raise InvalidInput(f"{field} is not a cursor this API gave out", field=[field]) from None


RunResult = Annotated[Union[Run, ERRORS], strawberry.union("RunResult")]  # noqa: UP007
HaltAllPayload = Annotated[Union[HaltAllResult, ERRORS], strawberry.union("HaltAllPayload")]  # noqa: UP007
