"""Event sinks (admin only): where events go out, a test send, the deliveries of a sink with
its dead-letter list, and redelivery."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry
from anyio import to_thread
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoshub import secrets
from chaoshub.api.resolvers import Outcome, ctx, mutate, plain, read
from chaoshub.api.types.common import Deleted, DeleteResult
from chaoshub.api.types.event_sinks import (
    EventDelivery,
    EventSink,
    EventSinkResult,
    Redelivered,
    RedeliverResult,
    SinkTest,
    SinkTestResult,
)
from chaoshub.errors import InvalidInput
from chaoshub.events_out import drain, envelope
from chaoshub.events_out.outbox import WEBHOOK
from chaoshub.services import event_sinks as svc
from chaoshub.services.auth import Actor
from chaoshub.store import models

ADMIN = "admin"


@strawberry.input(description="A new event sink")
class CreateEventSinkInput:
    name: str
    kind: str = strawberry.field(description="webhook | kubernetes-events")
    url: str | None = strawberry.field(default=None, description="webhooks: http(s), no user")
    format: str = strawberry.field(default="cloudevents", description="cloudevents | slack")
    secret: str | None = strawberry.field(
        default=None, description="webhooks: the HMAC key of X-Chaoshub-Signature (write only)"
    )
    event_types: list[str] | None = strawberry.field(
        default=None, description="CloudEvents types to send (* matches anything); none: all"
    )
    enabled: bool = True
    max_attempts: int = strawberry.field(default=10, description="1..50")
    max_age_seconds: float = strawberry.field(default=86400.0, description="1..604800")


@strawberry.input(description='Change a sink; a field left out is kept (secret: "<set>" keeps it)')
class UpdateEventSinkInput:
    id: strawberry.ID
    name: str | None = None
    url: str | None = None
    format: str | None = None
    secret: str | None = strawberry.field(
        default=strawberry.UNSET, description="a new secret; null removes it; <set> keeps it"
    )
    event_types: list[str] | None = None
    enabled: bool | None = None
    max_attempts: int | None = None
    max_age_seconds: float | None = None


def _counts(s: Session) -> dict[tuple[str, str], int]:
    rows = s.execute(
        select(models.EventDelivery.sink_id, models.EventDelivery.state, func.count())
        .where(models.EventDelivery.state.in_(("pending", "dead")))
        .group_by(models.EventDelivery.sink_id, models.EventDelivery.state)
    ).all()
    return {(r[0], r[1]): int(r[2]) for r in rows}


def _build(s: Session, row: models.EventSink) -> EventSink:
    counts = _counts(s)
    return EventSink.build(row, counts.get((row.id, "pending"), 0), counts.get((row.id, "dead"), 0))


def _saved(s: Session, row: models.EventSink) -> Outcome:
    s.flush()
    return Outcome(_build(s, row), subject=row.name)


@strawberry.type
class EventSinkQuery:
    @strawberry.field(description="Every event sink, by name (admin)")
    async def event_sinks(self, info: strawberry.Info) -> list[EventSink]:
        def q(s: Session, _a: Actor) -> list[EventSink]:
            counts = _counts(s)
            return [
                EventSink.build(r, counts.get((r.id, "pending"), 0), counts.get((r.id, "dead"), 0))
                for r in s.scalars(select(models.EventSink).order_by(models.EventSink.name))
            ]

        return await read(info, q, ADMIN)

    @strawberry.field(
        description="A sink's deliveries, newest first (admin); state: dead is the dead-letter "
        "list. Page with before: the id of the last delivery of the previous page"
    )
    async def event_sink_deliveries(
        self,
        info: strawberry.Info,
        sink_id: strawberry.ID,
        state: str | None = None,
        first: int = 100,
        before: strawberry.ID | None = None,
    ) -> list[EventDelivery]:
        def q(s: Session, _a: Actor) -> list[EventDelivery]:
            if before is not None and not str(before).isdigit():
                raise InvalidInput("before is a delivery id", field=["before"])
            rows = svc.deliveries(
                s, str(sink_id), state, first, int(before) if before is not None else None
            )
            return [EventDelivery.build(r) for r in rows]

        return await read(info, q, ADMIN)


def _audited(data: dict[str, Any]) -> dict[str, Any]:
    """A sink's input as the audit log keeps it: its URL as the API shows URLs."""
    if isinstance(data.get("url"), str):
        data = {**data, "url": secrets.redact_url(data["url"])}
    return data


@strawberry.type
class EventSinkMutation:
    @strawberry.mutation(description="Save an event sink (admin)")
    async def create_event_sink(
        self, info: strawberry.Info, input: CreateEventSinkInput
    ) -> EventSinkResult:
        data = svc.SinkInput(
            name=input.name,
            kind=input.kind,
            url=input.url,
            format=input.format,
            secret=input.secret if input.secret is not None else svc.KEEP,
            event_types=input.event_types if input.event_types is not None else [],
            enabled=input.enabled,
            max_attempts=input.max_attempts,
            max_age_seconds=input.max_age_seconds,
        )
        return await mutate(
            info,
            "createEventSink",
            ADMIN,
            _audited(plain(input)),
            lambda s, a: _saved(s, svc.create(s, a, data)),
        )

    @strawberry.mutation(description="Change an event sink (admin); its kind stays")
    async def update_event_sink(
        self, info: strawberry.Info, input: UpdateEventSinkInput
    ) -> EventSinkResult:
        data = svc.SinkInput(
            name=input.name,
            url=input.url,
            format=input.format,
            secret=svc.KEEP if input.secret is strawberry.UNSET else input.secret,
            event_types=input.event_types,
            enabled=input.enabled,
            max_attempts=input.max_attempts,
            max_age_seconds=input.max_age_seconds,
        )
        audit = _audited({k: v for k, v in plain(input).items() if v is not strawberry.UNSET})
        return await mutate(
            info,
            "updateEventSink",
            ADMIN,
            audit,
            lambda s, _a: _saved(s, svc.update(s, str(input.id), data)),
        )

    @strawberry.mutation(description="Delete an event sink and its deliveries (admin)")
    async def delete_event_sink(self, info: strawberry.Info, id: strawberry.ID) -> DeleteResult:
        def fn(s: Session, _a: Actor) -> Outcome:
            row = svc.delete(s, str(id))
            return Outcome(Deleted(id=strawberry.ID(row.id)), subject=row.name)

        return await mutate(info, "deleteEventSink", ADMIN, {"id": str(id)}, fn)

    @strawberry.mutation(
        description="Make a sink's dead deliveries pending again, all of them or those of ids "
        "(admin); they go out before newer ones, with a fresh retry budget"
    )
    async def redeliver_events(
        self,
        info: strawberry.Info,
        sink_id: strawberry.ID,
        ids: list[strawberry.ID] | None = None,
    ) -> RedeliverResult:
        def fn(s: Session, _a: Actor) -> Outcome:
            picked = None
            if ids is not None:
                if not all(str(i).isdigit() for i in ids):
                    raise InvalidInput("ids are delivery ids", field=["ids"])
                picked = [int(i) for i in ids]
            count = svc.redeliver(s, str(sink_id), picked)
            return Outcome(Redelivered(count=count), subject=str(sink_id))

        return await mutate(
            info,
            "redeliverEvents",
            ADMIN,
            {"sinkId": str(sink_id), "ids": [str(i) for i in ids] if ids is not None else None},
            fn,
        )

    @strawberry.mutation(
        description="Send one test event (type io.chaoshub.sink.test) to a webhook now, "
        "signed, and say how the receiver answered (admin); nothing is stored or retried"
    )
    async def test_event_sink(self, info: strawberry.Info, id: strawberry.ID) -> SinkTestResult:
        c = ctx(info)
        attempt: list[drain.Attempt] = []

        def fn(s: Session, a: Actor) -> Outcome:
            row = svc.get(s, str(id))
            if row.kind != WEBHOOK:
                raise InvalidInput("only a webhook can be sent a test event", field=["id"])
            event = models.Event(
                at=datetime.now(UTC),
                kind="test",
                reason=f"a test event sent by {a.name}",
                data={},
            )
            body, content_type = envelope.body(row.format, event, f"{envelope.PREFIX}sink.test")
            attempt.append(
                drain.Attempt(0, row.kind, row.url, row.format, row.secret, body, content_type)
            )
            return Outcome(None, subject=row.name)

        refused = await mutate(info, "testEventSink", ADMIN, {"id": str(id)}, fn)
        if not attempt:
            return refused
        result = await to_thread.run_sync(drain.post, c.runtime, attempt[0])
        return SinkTest(ok=result.ok, status=result.status, error=result.error)


__all__ = ["EventSinkMutation", "EventSinkQuery"]
