"""Event types: the append-only record of what happened, and its Relay connection."""

from __future__ import annotations

from datetime import datetime

import strawberry

from chaoshub import secrets
from chaoshub.api.types.common import Edge, JSONValue, PageInfo, decode_cursor
from chaoshub.errors import InvalidInput
from chaoshub.store import models


@strawberry.type(description="An append-only record of what happened, with a reason")
class Event:
    id: strawberry.ID
    at: datetime
    run_id: str | None
    agent: str | None
    kind: str
    from_phase: str | None
    to_phase: str | None
    target: str | None
    reason: str
    data: JSONValue

    @classmethod
    def build(cls, row: models.Event) -> Event:
        return cls(
            id=strawberry.ID(str(row.id)),
            at=row.at,
            run_id=row.run_id,
            agent=row.agent,
            kind=row.kind,
            from_phase=row.from_phase,
            to_phase=row.to_phase,
            target=row.target,
            reason=row.reason,
            data=secrets.mask(row.data or {}),
        )


@strawberry.type
class EventConnection:
    edges: list[Edge[Event]]
    page_info: PageInfo
    total_count: int


def event_cursor(cursor: str, field: str = "after") -> int:
    """An events cursor: the id of the last event of the previous page."""
    text = decode_cursor(cursor, field)
    if not text.isdigit():
        raise InvalidInput(f"{field} is not a cursor this API gave out", field=[field])
    return int(text)
