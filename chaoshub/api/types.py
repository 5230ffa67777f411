"""GraphQL object types, built from the store's rows and the catalog's dataclasses."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar, Union

import strawberry
from strawberry.scalars import JSON

from chaoshub import catalog as catalog_mod
from chaoshub import secrets
from chaoshub.contract import Adapter as AdapterCls
from chaoshub.errors import HubError, InvalidInput
from chaoshub.lifecycle import TimeControl
from chaoshub.store import models

if TYPE_CHECKING:
    JSONValue = Any
else:
    JSONValue = JSON


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


@strawberry.type
class Experiment:
    id: strawberry.ID
    name: str
    description: str
    fault_type: str
    backend: str
    params: JSONValue
    selector: JSONValue
    duration_seconds: float | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def build(cls, row: models.Experiment) -> Experiment:
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            description=row.description,
            fault_type=row.fault_type,
            backend=row.backend.name if row.backend else "",
            params=row.params or {},
            selector=row.selector or {},
            duration_seconds=row.duration_seconds,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


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


@strawberry.type
class DiscoveredTarget:
    id: str
    label: str
    attributes: JSONValue


@strawberry.type
class DiscoveredTargets:
    targets: list[DiscoveredTarget]


@strawberry.type
class ApiToken:
    id: strawberry.ID
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    agent_name: str | None = strawberry.field(
        description="agent tokens: the agent name it is bound to (None until it registers)"
    )

    @classmethod
    def build(cls, row: models.ApiToken) -> ApiToken:
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            role=row.role,
            prefix=row.prefix,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
            last_used_at=row.last_used_at,
            agent_name=row.agent_name,
        )


@strawberry.type(description="A new token; `token` is shown this once and stored only hashed")
class CreatedApiToken:
    token: str
    api_token: ApiToken


@strawberry.type
class AuditEntry:
    id: strawberry.ID
    at: datetime
    actor: str
    role: str
    action: str
    subject: str | None
    input: JSONValue
    result: str
    message: str

    @classmethod
    def build(cls, row: models.AuditEntry) -> AuditEntry:
        return cls(
            id=strawberry.ID(str(row.id)),
            at=row.at,
            actor=row.actor,
            role=row.role,
            action=row.action,
            subject=row.subject,
            input=secrets.mask(row.input or {}),
            result=row.result,
            message=row.message,
        )


@strawberry.type
class Deleted:
    id: strawberry.ID


@strawberry.type(description="What halt-all stopped")
class HaltAllResult:
    count: int
    runs: list[Run]


@strawberry.type(description="Whoever is calling")
class Viewer:
    name: str
    role: str


# -- connections (Relay) ------------------------------------------------------------------------

N = TypeVar("N")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[N]):
    cursor: str
    node: N


@strawberry.type
class RunConnection:
    edges: list[Edge[Run]]
    page_info: PageInfo
    total_count: int


@strawberry.type
class EventConnection:
    edges: list[Edge[Event]]
    page_info: PageInfo
    total_count: int


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def decode_cursor(cursor: str, field: str = "after") -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except Exception:
        raise InvalidInput(f"{field} is not a cursor this API gave out", field=[field]) from None


def run_cursor(cursor: str, field: str = "after") -> tuple[datetime, str]:
    """A runs cursor: the created time and id of the last run of the previous page."""
    at, sep, run_id = decode_cursor(cursor, field).partition("|")
    try:
        if not sep or not run_id:
            raise ValueError(cursor)
        return datetime.fromisoformat(at), run_id
    except ValueError:
        raise InvalidInput(f"{field} is not a cursor this API gave out", field=[field]) from None


def event_cursor(cursor: str, field: str = "after") -> int:
    """An events cursor: the id of the last event of the previous page."""
    text = decode_cursor(cursor, field)
    if not text.isdigit():
        raise InvalidInput(f"{field} is not a cursor this API gave out", field=[field])
    return int(text)


# -- typed errors ----------------------------------------------------------------------------------


@strawberry.interface(description="A typed error: what went wrong and which input field to fix")
class Error:
    code: str
    message: str
    field: list[str]


@strawberry.type
class InvalidInputError(Error):
    pass


@strawberry.type
class NotFoundError(Error):
    pass


@strawberry.type
class ConflictError(Error):
    pass


@strawberry.type
class ForbiddenError(Error):
    pass


@strawberry.type
class IllegalTransitionError(Error):
    pass


@strawberry.type
class BackendUnavailableError(Error):
    native_message: str | None = None


@strawberry.type
class RejectedByToolError(Error):
    native_code: str | None = None
    native_message: str | None = None


ERROR_TYPES: dict[str, type] = {
    "INVALID_INPUT": InvalidInputError,
    "NOT_FOUND": NotFoundError,
    "CONFLICT": ConflictError,
    "FORBIDDEN": ForbiddenError,
    "ILLEGAL_TRANSITION": IllegalTransitionError,
    "BACKEND_UNAVAILABLE": BackendUnavailableError,
    "REJECTED_BY_TOOL": RejectedByToolError,
    "RECOVERY_FAILED": RejectedByToolError,
}


def error_from(exc: HubError) -> Any:
    cls = ERROR_TYPES.get(exc.code, InvalidInputError)
    kwargs: dict[str, Any] = {"code": exc.code, "message": exc.message, "field": exc.field}
    if cls is BackendUnavailableError:
        kwargs["native_message"] = exc.native_message
    if cls is RejectedByToolError:
        kwargs["native_code"] = None if exc.native_code is None else str(exc.native_code)
        kwargs["native_message"] = exc.native_message
    return cls(**kwargs)


_ERRORS = Union[  # noqa: UP007
    InvalidInputError,
    NotFoundError,
    ConflictError,
    ForbiddenError,
    IllegalTransitionError,
    BackendUnavailableError,
    RejectedByToolError,
]

RunResult = Annotated[Union[Run, _ERRORS], strawberry.union("RunResult")]  # noqa: UP007
BackendResult = Annotated[Union[Backend, _ERRORS], strawberry.union("BackendResult")]  # noqa: UP007
ExperimentResult = Annotated[Union[Experiment, _ERRORS], strawberry.union("ExperimentResult")]  # noqa: UP007
DeleteResult = Annotated[Union[Deleted, _ERRORS], strawberry.union("DeleteResult")]  # noqa: UP007
HaltAllPayload = Annotated[Union[HaltAllResult, _ERRORS], strawberry.union("HaltAllPayload")]  # noqa: UP007
CreateApiTokenResult = Annotated[
    CreatedApiToken | _ERRORS, strawberry.union("CreateApiTokenResult")
]
ApiTokenResult = Annotated[Union[ApiToken, _ERRORS], strawberry.union("ApiTokenResult")]  # noqa: UP007
DiscoverResult = Annotated[Union[DiscoveredTargets, _ERRORS], strawberry.union("DiscoverResult")]  # noqa: UP007
