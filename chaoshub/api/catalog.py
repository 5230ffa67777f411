"""The catalog: which fault types exist, where each is available, which adapters are
installed, and which targets a selector matches on a backend now."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoshub import registry
from chaoshub.api.resolvers import ctx, read
from chaoshub.api.types.catalog import (
    Adapter,
    Availability,
    DiscoveredTarget,
    DiscoveredTargets,
    DiscoverResult,
    FaultType,
)
from chaoshub.api.types.common import JSONValue, error_from
from chaoshub.errors import HubError
from chaoshub.services import runs as runs_svc
from chaoshub.services.auth import Actor
from chaoshub.store import models


@strawberry.input
class FaultTypeFilter:
    adapter: str | None = None
    category: str | None = None
    target_kind: str | None = None
    text: str | None = None


@strawberry.input
class DiscoverInput:
    fault_type: str
    backend: str
    selector: JSONValue
    params: JSONValue | None = None


def _availability(s: Session, fault_id: str) -> list[Availability]:
    adapter = fault_id.split("/", 1)[0]
    if adapter != "native":
        return []
    name = fault_id.split("/", 1)[1]
    out = []
    for agent in s.scalars(select(models.Agent).order_by(models.Agent.name)):
        cap = (agent.capabilities or {}).get(name) or {}
        if not agent.online:
            out.append(Availability(backend=agent.name, available=False, reason="agent offline"))
        else:
            out.append(
                Availability(
                    backend=agent.name,
                    available=bool(cap.get("available", False)),
                    reason=str(
                        cap.get("reason") or ("" if cap else "the agent did not report this fault")
                    ),
                )
            )
    return out


@strawberry.type
class CatalogQuery:
    @strawberry.field(description="The catalog, filtered by adapter, category, target kind or text")
    async def fault_types(
        self, info: strawberry.Info, filter: FaultTypeFilter | None = None
    ) -> list[FaultType]:
        rt = ctx(info).runtime

        def q(s: Session, _a: Actor) -> list[FaultType]:
            f = filter or FaultTypeFilter()
            out = []
            for entry in rt.catalog.all():
                if f.adapter and entry.adapter != f.adapter:
                    continue
                if f.category and entry.category != f.category:
                    continue
                if f.target_kind and entry.target_kind != f.target_kind:
                    continue
                if f.text:
                    hay = " ".join([entry.id, entry.title, entry.description, *entry.tags]).lower()
                    if not all(word in hay for word in f.text.lower().split()):
                        continue
                out.append(FaultType.build(entry, _availability(s, entry.id)))
            return out

        return await read(info, q)

    @strawberry.field
    async def fault_type(self, info: strawberry.Info, id: strawberry.ID) -> FaultType | None:
        rt = ctx(info).runtime

        def q(s: Session, _a: Actor) -> FaultType | None:
            entry = rt.catalog.entries.get(str(id))
            return FaultType.build(entry, _availability(s, entry.id)) if entry else None

        return await read(info, q)

    @strawberry.field(description="Installed adapters")
    async def adapters(self, info: strawberry.Info) -> list[Adapter]:
        def q(_s: Session, _a: Actor) -> list[Adapter]:
            out = []
            for name in registry.names():
                hint = registry.unavailable(name)
                out.append(Adapter.build(name, None if hint else registry.get(name), hint or ""))
            return out

        return await read(info, q)

    @strawberry.field(description="Which targets a selector matches now (the adapter's discover)")
    async def discover_targets(self, info: strawberry.Info, input: DiscoverInput) -> DiscoverResult:
        rt = ctx(info).runtime

        def q(s: Session, _a: Actor) -> Any:
            try:
                spec = runs_svc.RunSpec(
                    input.fault_type, input.backend, input.params or {}, input.selector or {}, 60
                )
                checked = runs_svc.validate_spec(rt, s, spec)
                try:
                    found = runs_svc.discover(checked)
                finally:
                    checked.adapter.close()
            except HubError as exc:
                return error_from(exc)
            return DiscoveredTargets(
                targets=[
                    DiscoveredTarget(id=t.id, label=t.label, attributes=dict(t.attributes))
                    for t in found
                ]
            )

        return await read(info, q)
