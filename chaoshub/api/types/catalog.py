"""Catalog types: fault types, adapters, where a fault is available, discovered targets."""

from __future__ import annotations

from typing import Annotated, Union

import strawberry

from chaoshub import catalog as catalog_mod
from chaoshub.api.types.common import ERRORS, JSONValue
from chaoshub.contract import Adapter as AdapterCls
from chaoshub.lifecycle import TimeControl


@strawberry.type(description="A fault's availability on one backend or agent, and why not")
class Availability:
    backend: str
    available: bool
    reason: str


@strawberry.type(description="A catalog entry, id `<adapter>/<name>`")
class FaultType:
    id: strawberry.ID
    adapter: str
    name: str
    title: str
    description: str
    category: str
    target_kind: str
    time_control: str
    reversible: bool
    params: JSONValue
    selector: JSONValue
    duration_required: bool = strawberry.field(
        description="durationSeconds must be given (always so for timed faults)"
    )
    min_duration_seconds: float | None = strawberry.field(description="the tool's lower bound")
    max_duration_seconds: float | None = strawberry.field(description="the tool's upper bound")
    requires: list[str]
    docs: list[str]
    tags: list[str]
    availability: list[Availability]
    installed: bool = strawberry.field(
        description="whether this installation can run it (its adapter's extra is installed)"
    )
    install_hint: str | None = strawberry.field(
        description="when not installed: what is missing and the pip command that installs it"
    )

    @classmethod
    def build(
        cls, f: catalog_mod.FaultType, availability: list[Availability] | None = None
    ) -> FaultType:
        return cls(
            id=strawberry.ID(f.id),
            adapter=f.adapter,
            name=f.name,
            title=f.title,
            description=f.description,
            category=f.category,
            target_kind=f.target_kind,
            time_control=f.time_control.value,
            reversible=f.reversible,
            params=dict(f.params),
            selector=dict(f.selector),
            duration_required=f.time_control is TimeControl.TIMED
            or bool(f.duration.get("required")),
            min_duration_seconds=f.duration.get("min_seconds"),
            max_duration_seconds=f.duration.get("max_seconds"),
            requires=list(f.requires),
            docs=list(f.docs),
            tags=list(f.tags),
            availability=availability or [],
            installed=not f.unavailable,
            install_hint=f.unavailable or None,
        )


@strawberry.type(description="A registered adapter, and whether this installation can use it")
class Adapter:
    name: str
    faults: list[str]
    pause: bool
    config_schema: JSONValue
    installed: bool = strawberry.field(
        description="its code and client library import here (false: an extra is missing)"
    )
    install_hint: str | None = strawberry.field(
        description="when not installed: what is missing and the pip command that installs it"
    )

    @classmethod
    def build(cls, name: str, adapter: type[AdapterCls] | None, hint: str = "") -> Adapter:
        if adapter is None:
            return cls(
                name=name,
                faults=[],
                pause=False,
                config_schema={},
                installed=False,
                install_hint=hint,
            )
        return cls(
            name=name,
            faults=sorted(adapter.capabilities.faults),
            pause=adapter.capabilities.pause,
            config_schema=dict(adapter.config_schema),
            installed=True,
            install_hint=None,
        )


@strawberry.type
class DiscoveredTarget:
    id: str
    label: str
    attributes: JSONValue


@strawberry.type
class DiscoveredTargets:
    targets: list[DiscoveredTarget]


DiscoverResult = Annotated[Union[DiscoveredTargets, ERRORS], strawberry.union("DiscoverResult")]  # noqa: UP007
