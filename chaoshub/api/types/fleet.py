"""Fleet types: the backends chaos is run on and the native agents that registered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Union

import strawberry

from chaoshub import secrets
from chaoshub.api.types.catalog import Availability
from chaoshub.api.types.common import ERRORS, JSONValue
from chaoshub.store import models


@strawberry.type
class Backend:
    id: strawberry.ID
    name: str
    adapter: str
    config: JSONValue
    created_at: datetime
    updated_at: datetime

    @classmethod
    def build(cls, row: models.Backend) -> Backend:
        """Secrets show as :data:`chaoshub.secrets.SET` to every role, admins included."""
        config = secrets.mask(dict(row.config or {}), secrets.schema_of(row.adapter))
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            adapter=row.adapter,
            config=config,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(description="Whether a backend can be reached now")
class BackendHealth:
    ok: bool
    version: str
    message: str
    faults: list[Availability]


@strawberry.type(description="A native injector that registered itself")
class Agent:
    id: strawberry.ID
    name: str
    url: str
    labels: JSONValue
    version: str
    online: bool
    last_heartbeat: datetime | None
    capabilities: JSONValue

    @classmethod
    def build(cls, row: models.Agent, last_beat: float | None = None) -> Agent:
        """``last_beat``: the agent's latest beat as the presence store holds it (epoch
        seconds), when later than the row's ``last_heartbeat``."""
        seen = row.last_heartbeat
        if last_beat is not None:
            beat = datetime.fromtimestamp(last_beat, UTC)
            row_seen = seen if seen is None or seen.tzinfo else seen.replace(tzinfo=UTC)
            if row_seen is None or beat > row_seen:
                seen = beat
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            url=row.url,
            labels=row.labels or {},
            version=row.version,
            online=row.online,
            last_heartbeat=seen,
            capabilities=row.capabilities or {},
        )


BackendResult = Annotated[Union[Backend, ERRORS], strawberry.union("BackendResult")]  # noqa: UP007
