"""The GraphQL schema: the public names of DESIGN.md §7 and issue #2."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Iterable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import strawberry
from graphql import GraphQLError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from strawberry.types import ExecutionContext
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from chaoshub import registry, secrets
from chaoshub.api import limits
from chaoshub.api import types as T
from chaoshub.api.error_log import HubSchema
from chaoshub.api.resolvers import Outcome, ctx, in_db, mutate, read
from chaoshub.api.ws import TOKEN_CHANGED
from chaoshub.config import Settings
from chaoshub.contract import Health
from chaoshub.errors import HubError, InvalidInput
from chaoshub.lifecycle import Phase
from chaoshub.services import agents as agents_svc
from chaoshub.services import auth, backends, experiments
from chaoshub.services import runs as runs_svc
from chaoshub.services.auth import Actor
from chaoshub.store import models

JSON = T.JSONValue
N = TypeVar("N")


# -- inputs ---------------------------------------------------------------------------------------


@strawberry.input
class FaultTypeFilter:
    adapter: str | None = None
    category: str | None = None
    target_kind: str | None = None
    text: str | None = None


@strawberry.input
class RunFilter:
    phase: list[str] | None = None
    adapter: str | None = None
    experiment_id: str | None = None
    fault_type: str | None = None
    backend: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    include_archived: bool = False
    stuck: bool | None = strawberry.field(
        default=None,
        description="true: only runs stuck in recovering (recovery failed at least once); "
        "false: every other run",
    )


@strawberry.input
class EventFilter:
    run_id: str | None = None
    agent: str | None = None
    kind: str | None = None
    since: datetime | None = None


@strawberry.input
class StartRunInput:
    experiment_id: strawberry.ID | None = None
    fault_type: str | None = None
    backend: str | None = None
    params: JSON | None = None
    selector: JSON | None = None
    duration_seconds: float | None = None


@strawberry.input
class CreateBackendInput:
    name: str
    adapter: str
    config: JSON


@strawberry.input
class UpdateBackendInput:
    id: strawberry.ID
    name: str | None = None
    config: JSON | None = None


@strawberry.input
class CreateExperimentInput:
    name: str
    fault_type: str
    backend: str
    params: JSON | None = None
    selector: JSON | None = None
    duration_seconds: float | None = None
    description: str = ""


@strawberry.input
class UpdateExperimentInput:
    id: strawberry.ID
    name: str | None = None
    fault_type: str | None = None
    backend: str | None = None
    params: JSON | None = None
    selector: JSON | None = None
    duration_seconds: float | None = None
    description: str | None = None


@strawberry.input
class DiscoverInput:
    fault_type: str
    backend: str
    selector: JSON
    params: JSON | None = None


def _plain(value: Any) -> Any:
    """An input object as plain data for the audit log."""
    if hasattr(value, "__dataclass_fields__") or hasattr(value, "__strawberry_definition__"):
        return {k: _plain(v) for k, v in vars(value).items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _availability(s: Session, fault_id: str) -> list[T.Availability]:
    adapter = fault_id.split("/", 1)[0]
    if adapter != "native":
        return []
    name = fault_id.split("/", 1)[1]
    out = []
    for agent in s.scalars(select(models.Agent).order_by(models.Agent.name)):
        cap = (agent.capabilities or {}).get(name) or {}
        if not agent.online:
            out.append(T.Availability(backend=agent.name, available=False, reason="agent offline"))
        else:
            out.append(
                T.Availability(
                    backend=agent.name,
                    available=bool(cap.get("available", False)),
                    reason=str(
                        cap.get("reason") or ("" if cap else "the agent did not report this fault")
                    ),
                )
            )
    return out


def _run_query(f: RunFilter | None) -> Any:
    q = select(models.Run)
    f = f or RunFilter()
    if f.phase:
        bad = [p for p in f.phase if p not in {x.value for x in Phase}]
        if bad:
            raise InvalidInput(f"unknown phase {bad[0]!r}", field=["filter", "phase"])
        q = q.where(models.Run.phase.in_(f.phase))
    if f.adapter:
        q = q.where(models.Run.adapter == f.adapter)
    if f.experiment_id:
        q = q.where(models.Run.experiment_id == f.experiment_id)
    if f.fault_type:
        q = q.where(models.Run.fault_type == f.fault_type)
    if f.backend:
        q = q.where(models.Run.backend_name == f.backend)
    if f.since:
        q = q.where(models.Run.created_at >= f.since)
    if f.until:
        q = q.where(models.Run.created_at < f.until)
    if not f.include_archived:
        q = q.where(models.Run.archived.is_(False))
    if f.stuck is not None:
        stuck = (models.Run.phase == Phase.RECOVERING.value) & (models.Run.recover_attempts > 0)
        q = q.where(stuck if f.stuck else ~stuck)
    return q


def _page(first: int | None) -> int:
    if first is None:
        return 50
    if not 0 < first <= 500:
        raise InvalidInput("first must be between 1 and 500", field=["first"])
    return first


def _asks_for(selections: Iterable[Selection], name: str) -> bool:
    """Whether ``name`` is among the selected fields, looking inside fragments."""
    for sel in selections:
        if isinstance(sel, SelectedField) and sel.name == name:
            return True
        if isinstance(sel, FragmentSpread | InlineFragment) and _asks_for(sel.selections, name):
            return True
    return False


def _paginate(
    s: Session,
    info: strawberry.Info,
    base: Any,
    page: Any,
    first: int | None,
    cursor: Callable[[Any], str],
    build: Callable[[Any], N],
) -> tuple[list[T.Edge[N]], T.PageInfo, int]:
    """One page of a Relay connection: its edges, page info and the filtered total.

    The total counts every matching row, so it is counted only when the query asks for
    ``totalCount`` (0 otherwise, never sent).
    """
    size = _page(first)
    total = 0
    if _asks_for(info.selected_fields[0].selections, "totalCount"):
        total = s.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = list(s.scalars(page.limit(size + 1)))
    edges = [T.Edge(cursor=T.encode_cursor(cursor(r)), node=build(r)) for r in rows[:size]]
    page_info = T.PageInfo(
        has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None
    )
    return edges, page_info, total


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
class Query:
    @strawberry.field(description="Who is calling, and with which role")
    async def viewer(self, info: strawberry.Info) -> T.Viewer:
        actor = await ctx(info).actor()
        return T.Viewer(name=actor.name, role=actor.role)

    @strawberry.field(description="The catalog, filtered by adapter, category, target kind or text")
    async def fault_types(
        self, info: strawberry.Info, filter: FaultTypeFilter | None = None
    ) -> list[T.FaultType]:
        rt = ctx(info).runtime

        def q(s: Session, _a: Actor) -> list[T.FaultType]:
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
                out.append(T.FaultType.build(entry, _availability(s, entry.id)))
            return out

        return await read(info, q)

    @strawberry.field
    async def fault_type(self, info: strawberry.Info, id: strawberry.ID) -> T.FaultType | None:
        rt = ctx(info).runtime

        def q(s: Session, _a: Actor) -> T.FaultType | None:
            entry = rt.catalog.entries.get(str(id))
            return T.FaultType.build(entry, _availability(s, entry.id)) if entry else None

        return await read(info, q)

    @strawberry.field(description="Installed adapters")
    async def adapters(self, info: strawberry.Info) -> list[T.Adapter]:
        def q(_s: Session, _a: Actor) -> list[T.Adapter]:
            out = []
            for name in registry.names():
                hint = registry.unavailable(name)
                out.append(T.Adapter.build(name, None if hint else registry.get(name), hint or ""))
            return out

        return await read(info, q)

    @strawberry.field
    async def backends(self, info: strawberry.Info) -> list[T.Backend]:
        return await read(
            info,
            lambda s, a: [
                T.Backend.build(b)
                for b in s.scalars(select(models.Backend).order_by(models.Backend.name))
            ],
        )

    @strawberry.field(description="Ask a backend whether it can be reached and what it can do now")
    async def backend_health(self, info: strawberry.Info, name: str) -> T.BackendHealth:
        rt = ctx(info).runtime

        def q(s: Session, _a: Actor) -> T.BackendHealth:
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
            return T.BackendHealth(
                ok=health.ok,
                version=health.version,
                message=secrets.scrub(health.message, hidden, "the backend could not be reached"),
                faults=[
                    T.Availability(
                        backend=f,
                        available=v.available,
                        reason=secrets.scrub(v.reason, hidden, "unavailable"),
                    )
                    for f, v in health.faults.items()
                ],
            )

        return await read(info, q)

    @strawberry.field(description="Native injectors that registered themselves")
    async def agents(self, info: strawberry.Info) -> list[T.Agent]:
        presence = ctx(info).runtime.presence

        def q(s: Session, _a: Actor) -> list[T.Agent]:
            rows = list(s.scalars(select(models.Agent).order_by(models.Agent.name)))
            # the row's last_heartbeat is written in batches: the store has the latest beat
            known = presence.seen(r.name for r in rows)
            beats = known[0] if known is not None else {}
            return [T.Agent.build(r, beats.get(r.name)) for r in rows]

        return await read(info, q)

    @strawberry.field
    async def experiments(self, info: strawberry.Info) -> list[T.Experiment]:
        return await read(
            info,
            lambda s, a: [
                T.Experiment.build(e)
                for e in s.scalars(select(models.Experiment).order_by(models.Experiment.name))
            ],
        )

    @strawberry.field
    async def experiment(self, info: strawberry.Info, id: strawberry.ID) -> T.Experiment | None:
        return await read(
            info,
            lambda s, a: (lambda e: T.Experiment.build(e) if e else None)(
                s.get(models.Experiment, str(id))
            ),
        )

    @strawberry.field(description="Runs, newest first (Relay connection)")
    async def runs(
        self,
        info: strawberry.Info,
        filter: RunFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> T.RunConnection:
        def q(s: Session, _a: Actor) -> T.RunConnection:
            base = _run_query(filter)
            page = base.options(selectinload(models.Run.targets)).order_by(
                models.Run.created_at.desc(), models.Run.id.desc()
            )
            if after:
                cursor_at, rid = T.run_cursor(after)
                page = page.where(
                    (models.Run.created_at < cursor_at)
                    | ((models.Run.created_at == cursor_at) & (models.Run.id < rid))
                )
            edges, page_info, total = _paginate(
                s,
                info,
                base,
                page,
                first,
                lambda r: f"{r.created_at.isoformat()}|{r.id}",
                T.Run.build,
            )
            return T.RunConnection(edges=edges, page_info=page_info, total_count=total)

        return await read(info, q)

    @strawberry.field
    async def run(self, info: strawberry.Info, id: strawberry.ID) -> T.Run | None:
        def q(s: Session, _a: Actor) -> T.Run | None:
            try:
                return T.Run.build(runs_svc.get(s, str(id)))
            except HubError:
                return None

        return await read(info, q)

    @strawberry.field(description="Events, newest first (Relay connection)")
    async def events(
        self,
        info: strawberry.Info,
        filter: EventFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> T.EventConnection:
        def q(s: Session, _a: Actor) -> T.EventConnection:
            base = _event_query(filter)
            page = base.order_by(models.Event.id.desc())
            if after:
                page = page.where(models.Event.id < T.event_cursor(after))
            edges, page_info, total = _paginate(
                s, info, base, page, first, lambda r: str(r.id), T.Event.build
            )
            return T.EventConnection(edges=edges, page_info=page_info, total_count=total)

        return await read(info, q)

    @strawberry.field(description="Which targets a selector matches now (the adapter's discover)")
    async def discover_targets(
        self, info: strawberry.Info, input: DiscoverInput
    ) -> T.DiscoverResult:
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
                return T.error_from(exc)
            return T.DiscoveredTargets(
                targets=[
                    T.DiscoveredTarget(id=t.id, label=t.label, attributes=dict(t.attributes))
                    for t in found
                ]
            )

        return await read(info, q)

    @strawberry.field(description="API tokens (admin)")
    async def api_tokens(self, info: strawberry.Info) -> list[T.ApiToken]:
        return await read(
            info,
            lambda s, a: [
                T.ApiToken.build(t)
                for t in s.scalars(select(models.ApiToken).order_by(models.ApiToken.created_at))
            ],
            role="admin",
        )

    @strawberry.field(description="Every mutation: who, what, when, result (admin)")
    async def audit_log(
        self, info: strawberry.Info, first: int = 100, action: str | None = None
    ) -> list[T.AuditEntry]:
        def q(s: Session, _a: Actor) -> list[T.AuditEntry]:
            stmt = (
                select(models.AuditEntry).order_by(models.AuditEntry.id.desc()).limit(_page(first))
            )
            if action:
                stmt = stmt.where(models.AuditEntry.action == action)
            return [T.AuditEntry.build(e) for e in s.scalars(stmt)]

        return await read(info, q, role="admin")


def _dispatch_hook(info: strawberry.Info, run: models.Run, reason: str) -> list[Any]:
    c = ctx(info)
    return [lambda: c.dispatch(run.id, run.adapter, reason), lambda: c.runtime.publish_run(run.id)]


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def create_backend(
        self, info: strawberry.Info, input: CreateBackendInput
    ) -> T.BackendResult:
        rt = ctx(info).runtime

        def fn(s: Session, a: Actor) -> Outcome:
            row = backends.create(s, input.name, input.adapter, input.config)
            backends.describe_into_catalog(rt, s, row)
            return Outcome(T.Backend.build(row), subject=row.name)

        audited = _plain(input)
        audited["config"] = secrets.mask(input.config, secrets.schema_of(input.adapter))
        return await mutate(info, "createBackend", "admin", audited, fn)

    @strawberry.mutation
    async def update_backend(
        self, info: strawberry.Info, input: UpdateBackendInput
    ) -> T.BackendResult:
        rt = ctx(info).runtime

        def fn(s: Session, a: Actor) -> Outcome:
            before = backends.get(s, str(input.id)).name
            row = backends.update(s, str(input.id), name=input.name, config=input.config)
            if row.name != before:
                backends.forget_described(s, before)
            backends.describe_into_catalog(rt, s, row)
            return Outcome(T.Backend.build(row), subject=row.name)

        def adapter_of(s: Session) -> str:
            row = s.get(models.Backend, str(input.id))
            return row.adapter if row is not None else ""

        audited = _plain(input)
        if input.config is not None:
            schema = secrets.schema_of(await in_db(rt, adapter_of))
            audited["config"] = secrets.mask(input.config, schema)
        return await mutate(info, "updateBackend", "admin", audited, fn)

    @strawberry.mutation
    async def delete_backend(self, info: strawberry.Info, id: strawberry.ID) -> T.DeleteResult:
        def fn(s: Session, a: Actor) -> Outcome:
            row = backends.delete(s, str(id))
            return Outcome(T.Deleted(id=strawberry.ID(row.id)), subject=row.name)

        return await mutate(info, "deleteBackend", "admin", {"id": str(id)}, fn)

    @strawberry.mutation
    async def create_experiment(
        self, info: strawberry.Info, input: CreateExperimentInput
    ) -> T.ExperimentResult:
        rt = ctx(info).runtime

        def fn(s: Session, a: Actor) -> Outcome:
            data = experiments.ExperimentInput(
                name=input.name,
                fault_type=input.fault_type,
                backend=input.backend,
                params=experiments.require_object(input.params, "params"),
                selector=experiments.require_object(input.selector, "selector"),
                duration_seconds=input.duration_seconds,
                description=input.description,
            )
            row = experiments.create(rt, s, data, actor=a)
            s.refresh(row)
            note = runs_svc.override_note(runs_svc.overrides_in(rt, row))
            return Outcome(T.Experiment.build(row), subject=row.name, audit_message=note)

        return await mutate(info, "createExperiment", "operator", _plain(input), fn)

    @strawberry.mutation
    async def update_experiment(
        self, info: strawberry.Info, input: UpdateExperimentInput
    ) -> T.ExperimentResult:
        rt = ctx(info).runtime

        def fn(s: Session, a: Actor) -> Outcome:
            changes = {k: v for k, v in vars(input).items() if k != "id" and v is not None}
            row = experiments.update(rt, s, str(input.id), changes, actor=a)
            s.refresh(row)
            note = runs_svc.override_note(runs_svc.overrides_in(rt, row))
            return Outcome(T.Experiment.build(row), subject=row.name, audit_message=note)

        return await mutate(info, "updateExperiment", "operator", _plain(input), fn)

    @strawberry.mutation
    async def delete_experiment(self, info: strawberry.Info, id: strawberry.ID) -> T.DeleteResult:
        def fn(s: Session, a: Actor) -> Outcome:
            row = experiments.delete(s, str(id))
            return Outcome(T.Deleted(id=strawberry.ID(row.id)), subject=row.name)

        return await mutate(info, "deleteExperiment", "operator", {"id": str(id)}, fn)

    @strawberry.mutation(description="Start a run from a saved experiment or inline")
    async def start_run(self, info: strawberry.Info, input: StartRunInput) -> T.RunResult:
        rt = ctx(info).runtime

        def fn(s: Session, a: Actor) -> Outcome:
            if input.experiment_id:
                if input.fault_type or input.backend:
                    raise InvalidInput(
                        "give experimentId or an inline fault, not both", field=["experimentId"]
                    )
                run = runs_svc.start_from_experiment(rt, s, a, str(input.experiment_id))
            else:
                if not input.fault_type:
                    raise InvalidInput("give experimentId or faultType", field=["faultType"])
                if not input.backend:
                    raise InvalidInput("give the backend's name", field=["backend"])
                spec = runs_svc.RunSpec(
                    input.fault_type,
                    input.backend,
                    experiments.require_object(input.params, "params"),
                    experiments.require_object(input.selector, "selector"),
                    input.duration_seconds,
                )
                run = runs_svc.start(rt, s, a, spec)
            return Outcome(
                T.Run.build(run),
                subject=run.id,
                audit_message=runs_svc.override_note(runs_svc.overrides_in(rt, run)),
                after_commit=_dispatch_hook(info, run, "inject"),
            )

        return await mutate(info, "startRun", "operator", _plain(input), fn)

    @strawberry.mutation(description="Stop a run early and recover every target")
    async def abort_run(
        self, info: strawberry.Info, id: strawberry.ID, reason: str = ""
    ) -> T.RunResult:
        def fn(s: Session, a: Actor) -> Outcome:
            run = runs_svc.abort(s, a, str(id), reason)
            return Outcome(
                T.Run.build(run), subject=run.id, after_commit=_dispatch_hook(info, run, "recover")
            )

        return await mutate(info, "abortRun", "operator", {"id": str(id), "reason": reason}, fn)

    @strawberry.mutation(description="Revert a reversible fault until resumed; time stops")
    async def pause_run(self, info: strawberry.Info, id: strawberry.ID) -> T.RunResult:
        rt = ctx(info).runtime

        def fn(s: Session, a: Actor) -> Outcome:
            run = runs_svc.pause(rt, s, a, str(id))
            return Outcome(
                T.Run.build(run), subject=run.id, after_commit=_dispatch_hook(info, run, "recover")
            )

        return await mutate(info, "pauseRun", "operator", {"id": str(id)}, fn)

    @strawberry.mutation
    async def resume_run(self, info: strawberry.Info, id: strawberry.ID) -> T.RunResult:
        def fn(s: Session, a: Actor) -> Outcome:
            run = runs_svc.resume(s, a, str(id))
            return Outcome(
                T.Run.build(run), subject=run.id, after_commit=_dispatch_hook(info, run, "inject")
            )

        return await mutate(info, "resumeRun", "operator", {"id": str(id)}, fn)

    @strawberry.mutation(description="Hide an ended run from default lists")
    async def archive_run(self, info: strawberry.Info, id: strawberry.ID) -> T.RunResult:
        def fn(s: Session, a: Actor) -> Outcome:
            run = runs_svc.archive(s, a, str(id))
            return Outcome(
                T.Run.build(run),
                subject=run.id,
                after_commit=[lambda: ctx(info).runtime.publish_run(run.id)],
            )

        return await mutate(info, "archiveRun", "operator", {"id": str(id)}, fn)

    @strawberry.mutation(
        description="End a run stuck in recovering after a person confirmed its targets are clean"
    )
    async def force_release_run(
        self, info: strawberry.Info, id: strawberry.ID, reason: str
    ) -> T.RunResult:
        def fn(s: Session, a: Actor) -> Outcome:
            run = runs_svc.force_release(ctx(info).runtime, s, a, str(id), reason)
            return Outcome(
                T.Run.build(run),
                subject=run.id,
                after_commit=[lambda: ctx(info).runtime.publish_run(run.id)],
            )

        return await mutate(
            info, "forceReleaseRun", "operator", {"id": str(id), "reason": reason}, fn
        )

    @strawberry.mutation(description="Stop every active run")
    async def halt_all(self, info: strawberry.Info, reason: str = "") -> T.HaltAllPayload:
        def fn(s: Session, a: Actor) -> Outcome:
            halted = runs_svc.halt_all(s, a, reason)
            hooks = [h for r in halted for h in _dispatch_hook(info, r, "recover")]
            return Outcome(
                T.HaltAllResult(count=len(halted), runs=[T.Run.build(r) for r in halted]),
                subject=f"{len(halted)} runs",
                after_commit=hooks,
            )

        return await mutate(info, "haltAll", "operator", {"reason": reason}, fn)

    @strawberry.mutation
    async def create_api_token(
        self,
        info: strawberry.Info,
        name: str,
        role: str,
        agent_name: Annotated[
            str | None,
            strawberry.argument(
                description="agent tokens: the one agent name this token may register as "
                "(otherwise its first registration binds it)"
            ),
        ] = None,
    ) -> T.CreateApiTokenResult:
        def fn(s: Session, a: Actor) -> Outcome:
            row, plain = auth.create_token(s, name, role, agent_name=agent_name)
            return Outcome(
                T.CreatedApiToken(token=plain, api_token=T.ApiToken.build(row)), subject=row.name
            )

        given = {"name": name, "role": role, "agentName": agent_name}
        return await mutate(info, "createApiToken", "admin", given, fn)

    @strawberry.mutation
    async def revoke_api_token(self, info: strawberry.Info, id: strawberry.ID) -> T.ApiTokenResult:
        rt = ctx(info).runtime

        def fn(s: Session, a: Actor) -> Outcome:
            row = auth.revoke_token(s, str(id))
            # every API process closes this token's open websockets at once
            notice = {"kind": TOKEN_CHANGED, "token_id": row.id}
            return Outcome(
                T.ApiToken.build(row),
                subject=row.name,
                after_commit=[lambda: rt.bus.publish(notice)],
            )

        return await mutate(info, "revokeApiToken", "admin", {"id": str(id)}, fn)


async def _close_stream(stream: Any, pending: asyncio.Future[Any]) -> None:
    """Stop a bus subscription whose next message may still be awaited by ``pending``.

    The generator cannot be closed while that task is inside it, so the task is cancelled
    and awaited first; closing then finds it finished."""
    if not pending.done():
        pending.cancel()
    await asyncio.gather(pending, return_exceptions=True)
    await stream.aclose()


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The run now, then again each time it changes, until it ends"
    )
    async def run_updates(
        self, info: strawberry.Info, run_id: strawberry.ID
    ) -> AsyncGenerator[T.Run, None]:
        c = ctx(info)
        await c.actor()

        def load(s: Session) -> T.Run:
            return T.Run.build(runs_svc.get(s, str(run_id)))

        stream = c.runtime.bus.subscribe()
        # listening starts before the first read, so no change between the two is missed
        pending: asyncio.Future[Any] = asyncio.ensure_future(stream.__anext__())
        try:
            current = await in_db(c.runtime, load)
            yield current
            while not Phase(current.phase).terminal:
                message = await pending
                pending = asyncio.ensure_future(stream.__anext__())
                if message.get("run_id") != str(run_id):
                    continue
                current = await in_db(c.runtime, load)
                yield current
        finally:
            await _close_stream(stream, pending)

    @strawberry.subscription(description="New events as they are written")
    async def events(
        self, info: strawberry.Info, filter: EventFilter | None = None
    ) -> AsyncGenerator[T.Event, None]:
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
                        yield T.Event.build(row)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]


class _Schema(HubSchema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # graphql-core quotes a refused variable whole ("found: {'config': {'token': ...}}"):
        # a secret in it must reach neither the log nor the answer
        hidden = secrets.values(execution_context.variables if execution_context else None)
        for error in errors:
            scrubbed = secrets.scrub(
                error.message,
                hidden,
                "a variable has an invalid value (not shown: it holds a secret)",
            )
            if scrubbed != error.message:
                error.message = scrubbed
                error.original_error = None  # its traceback quotes the value too
        super().process_errors(errors, execution_context)


def build_schema(settings: Settings) -> strawberry.Schema:
    return _Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=limits.extensions(settings),
    )


__all__ = ["agents_svc", "build_schema"]
