"""Workflows: save and version documents, validate them, start, steer and follow their runs."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from chaoshub.api.paging import newest_first, newest_first_cursor, paginate
from chaoshub.api.resolvers import (
    Outcome,
    by_name,
    ctx,
    follow,
    mutate,
    read,
)
from chaoshub.api.types.common import Deleted, DeleteResult, JSONValue
from chaoshub.api.types.workflows import (
    ProbeKind,
    ValidationIssue,
    Workflow,
    WorkflowResult,
    WorkflowRun,
    WorkflowRunConnection,
    WorkflowRunResult,
)
from chaoshub.execution.reconciler import WORKFLOW
from chaoshub.probes import KINDS
from chaoshub.probes.schema import probe_schema
from chaoshub.services import workflows as svc
from chaoshub.services.auth import Actor
from chaoshub.store import models


@strawberry.input
class WorkflowRunFilter:
    phase: list[str] | None = None
    verdict: list[str] | None = None
    workflow_id: strawberry.ID | None = None
    workflow_name: str | None = None


@strawberry.input
class CreateWorkflowInput:
    document: JSONValue


@strawberry.input
class UpdateWorkflowInput:
    id: strawberry.ID
    document: JSONValue


@strawberry.input(description="A saved workflow (id or name), or a document to save and start")
class StartWorkflowInput:
    id: strawberry.ID | None = None
    name: str | None = None
    document: JSONValue | None = None


def build_run(s: Session, row: models.WorkflowRun) -> WorkflowRun:
    ids = [r.run_id for r in row.steps if r.run_id]
    children = (
        {
            r.id: r
            for r in s.scalars(
                select(models.Run)
                .where(models.Run.id.in_(ids))
                .options(selectinload(models.Run.targets))
            )
        }
        if ids
        else {}
    )
    return WorkflowRun.build(row, children)


def _runs_query(f: WorkflowRunFilter | None) -> Any:
    q = select(models.WorkflowRun)
    if f is None:
        return q
    if f.phase:
        q = q.where(models.WorkflowRun.phase.in_(f.phase))
    if f.verdict:
        q = q.where(models.WorkflowRun.verdict.in_(f.verdict))
    if f.workflow_id:
        q = q.where(models.WorkflowRun.workflow_id == str(f.workflow_id))
    if f.workflow_name:
        q = q.where(models.WorkflowRun.workflow_name == f.workflow_name)
    return q


@strawberry.type
class WorkflowQuery:
    @strawberry.field(description="Saved workflows, by name")
    async def workflows(self, info: strawberry.Info) -> list[Workflow]:
        return await by_name(info, models.Workflow, Workflow.build)

    @strawberry.field(description="One saved workflow, by id or name")
    async def workflow(
        self, info: strawberry.Info, id: strawberry.ID | None = None, name: str | None = None
    ) -> Workflow | None:
        def q(s: Session, _a: Actor) -> Workflow | None:
            if id:
                row = s.get(models.Workflow, str(id))
            else:
                row = s.scalars(select(models.Workflow).where(models.Workflow.name == name)).first()
            return Workflow.build(row) if row is not None else None

        return await read(info, q)

    @strawberry.field(
        description="Every refusal a workflow document would get (the tools' checks included), "
        "without saving or running it; empty when it is valid"
    )
    async def validate_workflow(
        self, info: strawberry.Info, document: JSONValue
    ) -> list[ValidationIssue]:
        return await ValidationIssue.of_document(info, svc.validate, document)

    @strawberry.field(description="Every probe kind with the JSON Schema of its probes")
    async def probe_kinds(self, info: strawberry.Info) -> list[ProbeKind]:
        def q(_s: Session, _a: Actor) -> list[ProbeKind]:
            schemas = {kind: probe_schema(kind) for kind in KINDS}
            return [
                ProbeKind(
                    kind=kind,
                    description=str(schema["properties"][kind].get("description", "")),
                    schema=schema,
                )
                for kind, schema in schemas.items()
            ]

        return await read(info, q)

    @strawberry.field(description="Workflow runs, newest first")
    async def workflow_runs(
        self,
        info: strawberry.Info,
        filter: WorkflowRunFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> WorkflowRunConnection:
        def q(s: Session, _a: Actor) -> WorkflowRunConnection:
            base = _runs_query(filter)
            page = newest_first(
                base.options(selectinload(models.WorkflowRun.steps)), models.WorkflowRun, after
            )
            edges, page_info, total = paginate(
                s, info, base, page, first, newest_first_cursor, lambda r: build_run(s, r)
            )
            return WorkflowRunConnection(edges=edges, page_info=page_info, total_count=total)

        return await read(info, q)

    @strawberry.field(description="One workflow run with its steps, child runs and probe results")
    async def workflow_run(self, info: strawberry.Info, id: strawberry.ID) -> WorkflowRun | None:
        def q(s: Session, _a: Actor) -> WorkflowRun | None:
            row = s.scalars(
                select(models.WorkflowRun)
                .where(models.WorkflowRun.id == str(id))
                .options(selectinload(models.WorkflowRun.steps))
            ).one_or_none()
            return build_run(s, row) if row is not None else None

        return await read(info, q)


def _wake(info: strawberry.Info, run_id: str) -> list[Any]:
    c = ctx(info)
    return [lambda: c.dispatch(run_id, WORKFLOW, "workflow"), lambda: c.runtime.publish_run(run_id)]


def _change(
    info: strawberry.Info, change: Callable[[Session, Actor], models.WorkflowRun]
) -> Callable[[Session, Actor], Outcome]:
    """A mutation's work on one workflow run: ``change`` it and answer with it; it is woken
    after commit."""

    def fn(s: Session, a: Actor) -> Outcome:
        row = change(s, a)
        return Outcome(build_run(s, row), subject=row.id, after_commit=_wake(info, row.id))

    return fn


@strawberry.type
class WorkflowMutation:
    @strawberry.mutation(description="Save a workflow document (checked whole first)")
    async def create_workflow(
        self, info: strawberry.Info, input: CreateWorkflowInput
    ) -> WorkflowResult:
        rt = ctx(info).runtime

        def fn(s: Session, a: Actor) -> Outcome:
            row = svc.create(rt, s, a, input.document)
            return Outcome(Workflow.build(row), subject=row.name)

        return await mutate(info, "createWorkflow", "operator", {"document": input.document}, fn)

    @strawberry.mutation(description="Save a new version of a workflow's document")
    async def update_workflow(
        self, info: strawberry.Info, input: UpdateWorkflowInput
    ) -> WorkflowResult:
        rt = ctx(info).runtime

        def fn(s: Session, a: Actor) -> Outcome:
            row = svc.update(rt, s, a, str(input.id), input.document)
            return Outcome(Workflow.build(row), subject=row.name)

        audited = {"id": str(input.id), "document": input.document}
        return await mutate(info, "updateWorkflow", "operator", audited, fn)

    @strawberry.mutation
    async def delete_workflow(self, info: strawberry.Info, id: strawberry.ID) -> DeleteResult:
        def fn(s: Session, _a: Actor) -> Outcome:
            row = svc.delete(s, str(id))
            return Outcome(Deleted(id=strawberry.ID(row.id)), subject=row.name)

        return await mutate(info, "deleteWorkflow", "operator", {"id": str(id)}, fn)

    @strawberry.mutation(
        description="Start a saved workflow, or save a document (a new version when it changed) "
        "and start it"
    )
    async def start_workflow(
        self, info: strawberry.Info, input: StartWorkflowInput
    ) -> WorkflowRunResult:
        rt = ctx(info).runtime

        def fn(s: Session, a: Actor) -> Outcome:
            row = svc.start(
                rt,
                s,
                a,
                workflow_id=str(input.id) if input.id else None,
                name=input.name,
                document=input.document,
            )
            s.flush()
            return Outcome(
                build_run(s, row), subject=row.workflow_name, after_commit=_wake(info, row.id)
            )

        audited = {"id": input.id and str(input.id), "name": input.name, "document": input.document}
        return await mutate(info, "startWorkflow", "operator", audited, fn)

    @strawberry.mutation(description="Stop a workflow run: every active step, every child run")
    async def abort_workflow_run(
        self, info: strawberry.Info, id: strawberry.ID, reason: str = ""
    ) -> WorkflowRunResult:
        return await mutate(
            info,
            "abortWorkflowRun",
            "operator",
            {"id": str(id), "reason": reason},
            _change(info, lambda s, a: svc.abort(s, a, str(id), reason)),
        )

    @strawberry.mutation(description="Pause a running workflow: its faults and its clocks")
    async def pause_workflow_run(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> WorkflowRunResult:
        return await mutate(
            info,
            "pauseWorkflowRun",
            "operator",
            {"id": str(id)},
            _change(info, lambda s, a: svc.pause(s, a, str(id))),
        )

    @strawberry.mutation
    async def resume_workflow_run(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> WorkflowRunResult:
        return await mutate(
            info,
            "resumeWorkflowRun",
            "operator",
            {"id": str(id)},
            _change(info, lambda s, a: svc.resume(s, a, str(id))),
        )

    @strawberry.mutation(description="Let an approval step through")
    async def approve_step(
        self, info: strawberry.Info, run_id: strawberry.ID, step_id: str, comment: str = ""
    ) -> WorkflowRunResult:
        return await _decide(info, "approveStep", str(run_id), step_id, True, comment)

    @strawberry.mutation(description="Refuse an approval step")
    async def reject_step(
        self, info: strawberry.Info, run_id: strawberry.ID, step_id: str, comment: str = ""
    ) -> WorkflowRunResult:
        return await _decide(info, "rejectStep", str(run_id), step_id, False, comment)


async def _decide(
    info: strawberry.Info, action: str, run_id: str, step_id: str, approve: bool, comment: str
) -> Any:
    return await mutate(
        info,
        action,
        "operator",
        {"runId": run_id, "stepId": step_id, "comment": comment},
        _change(info, lambda s, a: svc.decide(s, a, run_id, step_id, approve, comment)),
    )


@strawberry.type
class WorkflowSubscription:
    @strawberry.subscription(
        description="The workflow run now, then again each time it or a child run changes, "
        "until it ends"
    )
    async def workflow_run_updates(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> AsyncGenerator[WorkflowRun, None]:
        def load(s: Session) -> WorkflowRun:
            return build_run(s, svc.get_run(s, str(id)))

        def watched(current: WorkflowRun) -> set[str | None]:
            return {str(id), *(st.run_id for st in current.steps if st.run_id)}

        return follow(info, load, watched)
