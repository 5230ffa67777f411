"""Runs: list and read them, start, abort, pause, resume, archive, force-release, halt all,
and follow one as it changes."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from chaoshub.api.paging import newest_first, newest_first_cursor, paginate
from chaoshub.api.resolvers import Outcome, Staged, ctx, follow, mutate, plain, read
from chaoshub.api.types.common import JSONValue
from chaoshub.api.types.runs import (
    HaltAllPayload,
    HaltAllResult,
    Run,
    RunConnection,
    RunResult,
)
from chaoshub.errors import HubError, InvalidInput
from chaoshub.execution.reconciler import WORKFLOW
from chaoshub.lifecycle import Phase
from chaoshub.runtime import run_notice
from chaoshub.services import experiments
from chaoshub.services import runs as runs_svc
from chaoshub.services import schedules as schedules_svc
from chaoshub.services import thresholds as thresholds_svc
from chaoshub.services import workflows as workflows_svc
from chaoshub.services.auth import Actor
from chaoshub.store import models


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
class StartRunInput:
    experiment_id: strawberry.ID | None = None
    fault_type: str | None = None
    backend: str | None = None
    params: JSONValue | None = None
    selector: JSONValue | None = None
    duration_seconds: float | None = None


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


@strawberry.type
class RunQuery:
    @strawberry.field(description="Runs, newest first (Relay connection)")
    async def runs(
        self,
        info: strawberry.Info,
        filter: RunFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> RunConnection:
        def q(s: Session, _a: Actor) -> RunConnection:
            base = _run_query(filter)
            page = newest_first(base.options(selectinload(models.Run.targets)), models.Run, after)
            edges, page_info, total = paginate(
                s, info, base, page, first, newest_first_cursor, Run.build
            )
            return RunConnection(edges=edges, page_info=page_info, total_count=total)

        return await read(info, q)

    @strawberry.field
    async def run(self, info: strawberry.Info, id: strawberry.ID) -> Run | None:
        def q(s: Session, _a: Actor) -> Run | None:
            try:
                return Run.build(runs_svc.get(s, str(id)))
            except HubError:
                return None

        return await read(info, q)


def _dispatch_hook(info: strawberry.Info, run: models.Run, reason: str) -> list[Any]:
    c = ctx(info)
    return [lambda: c.dispatch(run.id, run.adapter, reason), lambda: c.runtime.publish_run(run.id)]


def _change(
    info: strawberry.Info, change: Callable[[Session, Actor], models.Run], reason: str = ""
) -> Callable[[Session, Actor], Outcome]:
    """A mutation's work on one run: ``change`` it and answer with it; after commit it is
    dispatched for ``reason`` (none: only published)."""

    def fn(s: Session, a: Actor) -> Outcome:
        run = change(s, a)
        hooks = (
            _dispatch_hook(info, run, reason)
            if reason
            else [lambda: ctx(info).runtime.publish_run(run.id)]
        )
        return Outcome(Run.build(run), subject=run.id, after_commit=hooks)

    return fn


@strawberry.type
class RunMutation:
    @strawberry.mutation(description="Start a run from a saved experiment or inline")
    async def start_run(self, info: strawberry.Info, input: StartRunInput) -> RunResult:
        rt = ctx(info).runtime

        def fn(s: Session, a: Actor) -> Staged:
            experiment = None
            if input.experiment_id:
                if input.fault_type or input.backend:
                    raise InvalidInput(
                        "give experimentId or an inline fault, not both", field=["experimentId"]
                    )
                spec, experiment = runs_svc.experiment_spec(s, str(input.experiment_id))
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
            prepared = runs_svc.prepare(rt, s, a, spec, experiment)

            def store(s: Session) -> Callable[[], Outcome]:
                run = runs_svc.store(rt, s, a, prepared)
                return lambda: Outcome(
                    Run.build(run),
                    subject=run.id,
                    audit_message=runs_svc.override_note(runs_svc.overrides_in(rt, run)),
                    dispatches=[(run.id, run.adapter, "inject")],
                    notices=[run_notice(run.id)],
                )

            return Staged(store)

        return await mutate(info, "startRun", "operator", plain(input), fn)

    @strawberry.mutation(description="Stop a run early and recover every target")
    async def abort_run(
        self, info: strawberry.Info, id: strawberry.ID, reason: str = ""
    ) -> RunResult:
        return await mutate(
            info,
            "abortRun",
            "operator",
            {"id": str(id), "reason": reason},
            _change(info, lambda s, a: runs_svc.abort(s, a, str(id), reason), "recover"),
        )

    @strawberry.mutation(description="Revert a reversible fault until resumed; time stops")
    async def pause_run(self, info: strawberry.Info, id: strawberry.ID) -> RunResult:
        rt = ctx(info).runtime
        return await mutate(
            info,
            "pauseRun",
            "operator",
            {"id": str(id)},
            _change(info, lambda s, a: runs_svc.pause(rt, s, a, str(id)), "recover"),
        )

    @strawberry.mutation
    async def resume_run(self, info: strawberry.Info, id: strawberry.ID) -> RunResult:
        return await mutate(
            info,
            "resumeRun",
            "operator",
            {"id": str(id)},
            _change(info, lambda s, a: runs_svc.resume(s, a, str(id)), "inject"),
        )

    @strawberry.mutation(description="Hide an ended run from default lists")
    async def archive_run(self, info: strawberry.Info, id: strawberry.ID) -> RunResult:
        return await mutate(
            info,
            "archiveRun",
            "operator",
            {"id": str(id)},
            _change(info, lambda s, a: runs_svc.archive(s, a, str(id))),
        )

    @strawberry.mutation(
        description="End a run stuck in recovering after a person confirmed its targets are clean"
    )
    async def force_release_run(
        self, info: strawberry.Info, id: strawberry.ID, reason: str
    ) -> RunResult:
        return await mutate(
            info,
            "forceReleaseRun",
            "operator",
            {"id": str(id), "reason": reason},
            _change(
                info, lambda s, a: runs_svc.force_release(ctx(info).runtime, s, a, str(id), reason)
            ),
        )

    @strawberry.mutation(
        description="Stop every active run and workflow run, and pause every schedule"
    )
    async def halt_all(self, info: strawberry.Info, reason: str = "") -> HaltAllPayload:
        def fn(s: Session, a: Actor) -> Outcome:
            halted = runs_svc.halt_all(s, a, reason)
            flows = workflows_svc.halt_all(s, a, reason)
            paused = schedules_svc.pause_all(s, a, reason)
            searches = thresholds_svc.halt_all(s, a, reason)
            hooks = [h for r in halted for h in _dispatch_hook(info, r, "recover")]
            c = ctx(info)
            hooks += [lambda i=w.id: c.dispatch(i, WORKFLOW, "workflow") for w in flows]
            return Outcome(
                HaltAllResult(
                    count=len(halted),
                    runs=[Run.build(r) for r in halted],
                    workflow_run_count=len(flows),
                    schedule_count=paused,
                ),
                subject=f"{len(halted)} runs, {len(flows)} workflow runs, {len(searches)} "
                f"threshold searches, {paused} schedules paused",
                after_commit=hooks,
            )

        return await mutate(info, "haltAll", "operator", {"reason": reason}, fn)


@strawberry.type
class RunSubscription:
    @strawberry.subscription(
        description="The run now, then again each time it changes, until it ends"
    )
    async def run_updates(
        self, info: strawberry.Info, run_id: strawberry.ID
    ) -> AsyncGenerator[Run, None]:
        def load(s: Session) -> Run:
            return Run.build(runs_svc.get(s, str(run_id)))

        return follow(info, load, lambda _current: (str(run_id),))
