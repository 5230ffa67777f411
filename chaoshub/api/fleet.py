"""The fleet: backends (where faults are injected: their config, health and catalog) and the
native agents that registered themselves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoshub import secrets
from chaoshub.api.resolvers import Outcome, by_name, ctx, in_db, mutate, plain, read
from chaoshub.api.types.catalog import Availability
from chaoshub.api.types.common import Deleted, DeleteResult, JSONValue
from chaoshub.api.types.fleet import Agent, Backend, BackendHealth, BackendResult
from chaoshub.contract import Health
from chaoshub.errors import HubError, InvalidInput
from chaoshub.services import backends
from chaoshub.services.auth import Actor
from chaoshub.store import models

#: names one ``agents(names:)`` query may ask for
MAX_AGENT_NAMES = 500


@strawberry.input
class CreateBackendInput:
    name: str
    adapter: str
    config: JSONValue


@strawberry.input
class UpdateBackendInput:
    id: strawberry.ID
    name: str | None = None
    config: JSONValue | None = None


@strawberry.type
class FleetQuery:
    @strawberry.field
    async def backends(self, info: strawberry.Info) -> list[Backend]:
        return await by_name(info, models.Backend, Backend.build)

    @strawberry.field(description="Ask a backend whether it can be reached and what it can do now")
    async def backend_health(self, info: strawberry.Info, name: str) -> BackendHealth:
        rt = ctx(info).runtime

        def q(s: Session, _a: Actor) -> BackendHealth:
            backend = backends.by_name(s, name, field="name")
            adapter = rt.adapter_for(s, backend)
            try:
                with adapter.translate_errors():
                    health: Health = adapter.health()
            except HubError as exc:
                health = Health(ok=False, message=str(exc))
            finally:
                adapter.close()
            # a tool's or a loader's message may quote the config it was given
            hidden = secrets.values(backend.config or {}, secrets.schema_of(backend.adapter))
            return BackendHealth(
                ok=health.ok,
                version=health.version,
                message=secrets.scrub(health.message, hidden, "the backend could not be reached"),
                faults=[
                    Availability(
                        backend=f,
                        available=v.available,
                        reason=secrets.scrub(v.reason, hidden, "unavailable"),
                    )
                    for f, v in health.faults.items()
                ],
            )

        return await read(info, q)

    @strawberry.field(description="Native injectors that registered themselves")
    async def agents(
        self,
        info: strawberry.Info,
        names: Annotated[
            list[str] | None,
            strawberry.argument(
                description="only these agents (a fleet of thousands: ask for the few you watch)"
            ),
        ] = None,
    ) -> list[Agent]:
        presence = ctx(info).runtime.presence
        if names is not None and len(names) > MAX_AGENT_NAMES:
            raise InvalidInput(f"at most {MAX_AGENT_NAMES} names at once", field=["names"])

        def q(s: Session, _a: Actor) -> list[Agent]:
            query = select(models.Agent).order_by(models.Agent.name)
            if names is not None:
                query = query.where(models.Agent.name.in_(names))
            rows = list(s.scalars(query))
            # the row's last_heartbeat is written in batches: the store has the latest beat
            known = presence.seen(r.name for r in rows)
            beats = known[0] if known is not None else {}
            return [Agent.build(r, beats.get(r.name)) for r in rows]

        return await read(info, q)


async def _save(
    info: strawberry.Info,
    action: str,
    audited: dict[str, Any],
    write: Callable[[Session], models.Backend],
) -> Any:
    """A backend written by ``write`` as the mutation's result, its catalog described anew."""
    rt = ctx(info).runtime

    def fn(s: Session, _a: Actor) -> Outcome:
        row = write(s)
        backends.describe_into_catalog(rt, s, row)
        return Outcome(Backend.build(row), subject=row.name)

    return await mutate(info, action, "admin", audited, fn)


@strawberry.type
class FleetMutation:
    @strawberry.mutation
    async def create_backend(
        self, info: strawberry.Info, input: CreateBackendInput
    ) -> BackendResult:
        audited = plain(input)
        audited["config"] = secrets.mask(input.config, secrets.schema_of(input.adapter))
        return await _save(
            info,
            "createBackend",
            audited,
            lambda s: backends.create(s, input.name, input.adapter, input.config),
        )

    @strawberry.mutation
    async def update_backend(
        self, info: strawberry.Info, input: UpdateBackendInput
    ) -> BackendResult:
        def write(s: Session) -> models.Backend:
            before = backends.get(s, str(input.id)).name
            row = backends.update(s, str(input.id), name=input.name, config=input.config)
            if row.name != before:
                backends.forget_described(s, before)
            return row

        def adapter_of(s: Session) -> str:
            row = s.get(models.Backend, str(input.id))
            return row.adapter if row is not None else ""

        audited = plain(input)
        if input.config is not None:
            schema = secrets.schema_of(await in_db(ctx(info).runtime, adapter_of))
            audited["config"] = secrets.mask(input.config, schema)
        return await _save(info, "updateBackend", audited, write)

    @strawberry.mutation
    async def delete_backend(self, info: strawberry.Info, id: strawberry.ID) -> DeleteResult:
        def fn(s: Session, a: Actor) -> Outcome:
            row = backends.delete(s, str(id))
            return Outcome(Deleted(id=strawberry.ID(row.id)), subject=row.name)

        return await mutate(info, "deleteBackend", "admin", {"id": str(id)}, fn)
