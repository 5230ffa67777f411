"""Events: the append-only record of what happened and why, paged or as they are written."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoshub.api.paging import paginate
from chaoshub.api.resolvers import ctx, in_db, read
from chaoshub.api.types.events import Event, EventConnection, event_cursor
from chaoshub.services.auth import Actor
from chaoshub.store import models


@strawberry.input
class EventFilter:
    run_id: str | None = None
    agent: str | None = None
    kind: str | None = None
    since: datetime | None = None


def _event_query(f: EventFilter | None) -> Any:
    q = select(models.Event)
    f = f or EventFilter()
    if f.run_id:
        q = q.where(models.Event.run_id == f.run_id)
    if f.agent:
        q = q.where(models.Event.agent == f.agent)
    if f.kind:
        q = q.where(models.Event.kind == f.kind)
    if f.since:
        q = q.where(models.Event.at >= f.since)
    return q


def _event_matches(e: models.Event, f: EventFilter | None) -> bool:
    if f is None:
        return True
    return (
        (not f.run_id or e.run_id == f.run_id)
        and (not f.agent or e.agent == f.agent)
        and (not f.kind or e.kind == f.kind)
        and (not f.since or e.at >= f.since)
    )


@strawberry.type
class EventQuery:
    @strawberry.field(description="Events, newest first (Relay connection)")
    async def events(
        self,
        info: strawberry.Info,
        filter: EventFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> EventConnection:
        def q(s: Session, _a: Actor) -> EventConnection:
            base = _event_query(filter)
            page = base.order_by(models.Event.id.desc())
            if after:
                page = page.where(models.Event.id < event_cursor(after))
            edges, page_info, total = paginate(
                s, info, base, page, first, lambda r: str(r.id), Event.build
            )
            return EventConnection(edges=edges, page_info=page_info, total_count=total)

        return await read(info, q)


@strawberry.type
class EventSubscription:
    @strawberry.subscription(description="New events as they are written")
    async def events(
        self, info: strawberry.Info, filter: EventFilter | None = None
    ) -> AsyncGenerator[Event, None]:
        c = ctx(info)
        await c.actor()
        stream = c.runtime.bus.subscribe()
        try:
            async for message in stream:
                ids = [int(i) for i in message.get("event_ids") or []]
                if not ids:
                    continue

                def load(s: Session, ids: list[int] = ids) -> list[models.Event]:
                    return list(
                        s.scalars(
                            select(models.Event)
                            .where(models.Event.id.in_(ids))
                            .order_by(models.Event.id)
                        )
                    )

                for row in await in_db(c.runtime, load):
                    if _event_matches(row, filter):
                        yield Event.build(row)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
