"""GraphQL types of event sinks and their deliveries (the dead-letter list among them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Union

import strawberry

from chaoshub import secrets
from chaoshub.api.types.common import ERRORS
from chaoshub.api.types.events import Event
from chaoshub.store import models


@strawberry.type(description="Where the hub sends its events: a webhook or Kubernetes Events")
class EventSink:
    id: strawberry.ID
    name: str
    kind: str = strawberry.field(description="webhook | kubernetes-events")
    url: str = strawberry.field(
        description="webhooks: where events are POSTed, as scheme://host:port/… (the path and "
        "query may hold the receiver's credential and are never answered; sent back as it "
        "reads, it keeps the stored URL)"
    )
    format: str = strawberry.field(
        description="webhooks: cloudevents (CloudEvents 1.0 structured JSON) | slack ({text})"
    )
    secret: str | None = strawberry.field(
        description='"<set>" when the sink signs with a secret (never the secret itself)'
    )
    event_types: list[str] = strawberry.field(
        description="CloudEvents types sent (* matches anything); empty: every event"
    )
    enabled: bool
    max_attempts: int = strawberry.field(description="a delivery that failed this often is dead")
    max_age_seconds: float = strawberry.field(description="a delivery older than this is dead")
    created_by: str
    created_at: datetime
    updated_at: datetime
    pending: int = strawberry.field(description="deliveries not made yet")
    dead: int = strawberry.field(description="deliveries that spent their retry budget")

    @classmethod
    def build(cls, row: models.EventSink, pending: int = 0, dead: int = 0) -> EventSink:
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            kind=row.kind,
            url=secrets.redact_url(row.url),
            format=row.format,
            secret=secrets.SET if row.secret else None,
            event_types=list(row.event_types or []),
            enabled=row.enabled,
            max_attempts=row.max_attempts,
            max_age_seconds=row.max_age_seconds,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            pending=pending,
            dead=dead,
        )


@strawberry.type(description="One event owed to one sink, and how its delivery went")
class EventDelivery:
    id: strawberry.ID
    sink_id: str
    type: str = strawberry.field(description="the CloudEvents type")
    state: str = strawberry.field(description="pending | delivered | dead")
    attempts: int
    next_attempt_at: datetime
    last_error: str
    last_status: int | None = strawberry.field(description="the receiver's last HTTP status")
    created_at: datetime
    delivered_at: datetime | None
    event: Event

    @classmethod
    def build(cls, row: models.EventDelivery) -> EventDelivery:
        return cls(
            id=strawberry.ID(str(row.id)),
            sink_id=row.sink_id,
            type=row.type,
            state=row.state,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            last_status=row.last_status,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
            event=Event.build(row.event),
        )


@strawberry.type(description="What a test delivery did")
class SinkTest:
    ok: bool
    status: int | None
    error: str


@strawberry.type
class Redelivered:
    count: int = strawberry.field(description="dead deliveries made pending again")


EventSinkResult = Annotated[Union[EventSink, ERRORS], strawberry.union("EventSinkResult")]  # noqa: UP007
SinkTestResult = Annotated[Union[SinkTest, ERRORS], strawberry.union("SinkTestResult")]  # noqa: UP007
RedeliverResult = Annotated[Union[Redelivered, ERRORS], strawberry.union("RedeliverResult")]  # noqa: UP007
