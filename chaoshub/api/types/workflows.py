"""GraphQL types of workflows: saved documents, their runs, steps, probe results and samples."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Union

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoshub.api.types.common import ERRORS, Edge, JSONValue, PageInfo
from chaoshub.api.types.runs import Run
from chaoshub.store import models

if TYPE_CHECKING:
    from chaoshub.errors import HubError
    from chaoshub.runtime import Runtime
    from chaoshub.services.auth import Actor


@strawberry.type(description="A saved workflow document; each change is a new version")
class Workflow:
    id: strawberry.ID
    name: str
    description: str
    version: int
    document: JSONValue
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def build(cls, row: models.Workflow) -> Workflow:
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            description=row.description,
            version=row.version,
            document=row.document,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(description="One check of a probe")
class ProbeSample:
    at: datetime
    ok: bool
    value: JSONValue | None
    error: str | None
    latency_ms: float | None


@strawberry.type(description="What a probe found: its outcome, counts and samples")
class ProbeResult:
    step_pk: strawberry.Private[int]
    name: str
    kind: str
    outcome: str
    checks: int
    passed: int
    score: float | None = strawberry.field(description="the share of checks that held")
    expectation: JSONValue = strawberry.field(description="the probe as the document gives it")

    @strawberry.field(description="The newest `last` samples (1..500), oldest first")
    async def samples(self, info: strawberry.Info, last: int = 500) -> list[ProbeSample]:
        from chaoshub.api.resolvers import read

        pk = self.step_pk

        def q(s: Session, _a: object) -> list[ProbeSample]:
            rows = s.scalars(
                select(models.ProbeSample)
                .where(models.ProbeSample.step_pk == pk)
                .order_by(models.ProbeSample.id.desc())
                .limit(max(1, min(last, 500)))
            )
            return [
                ProbeSample(at=r.at, ok=r.ok, value=r.value, error=r.error, latency_ms=r.latency_ms)
                for r in reversed(list(rows))
            ]

        return await read(info, q)


@strawberry.type(
    description="A step of a workflow run, or one of its steady-state or stop-condition probes"
)
class WorkflowStep:
    step_id: str
    kind: str = strawberry.field(description="fault | probe | wait | approval")
    role: str = strawberry.field(
        description="step | steadyState-before | steadyState-after | stopCondition"
    )
    state: str = strawberry.field(
        description="waiting | running | passed | failed | skipped | aborted"
    )
    reason: str
    after: list[str]
    when: str | None
    started_at: datetime | None
    ended_at: datetime | None
    deadline: datetime | None
    run_id: str | None
    decided_by: str | None
    probe: ProbeResult | None
    run_row: strawberry.Private[models.Run | None]

    @strawberry.field(description="A fault step's child run")
    def run(self) -> Run | None:
        return Run.build(self.run_row) if self.run_row is not None else None


def _probe_document(document: dict[str, Any], row: models.WorkflowStep) -> dict[str, Any]:
    if row.role == "step":
        for step in document.get("steps") or []:
            if isinstance(step, dict) and step.get("id") == row.step_id:
                return dict(step.get("probe") or {})
        return {}
    key = "stopConditions" if row.role == "stopCondition" else "steadyState"
    for i, probe in enumerate(document.get(key) or []):
        if isinstance(probe, dict) and probe.get("name", f"{key}-{i}") == row.step_id:
            return dict(probe)
    return {}


def _kind_of(probe: dict[str, Any]) -> str:
    from chaoshub.probes import KINDS

    return next((k for k in probe if k in KINDS), "")


@strawberry.type(description="One execution of a workflow: a run of runs, with a verdict")
class WorkflowRun:
    id: strawberry.ID
    workflow_id: str | None
    workflow_name: str
    version: int
    document: JSONValue
    phase: str
    desired_state: str
    verdict: str
    ending: str | None
    reasons: list[str]
    score: float | None = strawberry.field(
        description="resilience: the share of all probe checks that held"
    )
    error: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    deadline: datetime | None
    ended_at: datetime | None
    steps: list[WorkflowStep]

    @classmethod
    def build(cls, row: models.WorkflowRun, children: dict[str, models.Run]) -> WorkflowRun:
        document = row.document or {}
        specs = {s.get("id"): s for s in document.get("steps") or [] if isinstance(s, dict)}
        steps = []
        for r in row.steps:
            probe = None
            if r.kind == "probe":
                doc = _probe_document(document, r)
                outcome = r.state if r.state in ("passed", "failed", "aborted") else "pending"
                probe = ProbeResult(
                    step_pk=r.id,
                    name=r.step_id,
                    kind=_kind_of(doc),
                    outcome=outcome,
                    checks=r.checks,
                    passed=r.passed,
                    score=r.passed / r.checks if r.checks else None,
                    expectation=doc,
                )
            spec = specs.get(r.step_id, {}) if r.role == "step" else {}
            steps.append(
                WorkflowStep(
                    step_id=r.step_id,
                    kind=r.kind,
                    role=r.role,
                    state=r.state,
                    reason=r.reason,
                    after=list(spec.get("after") or []),
                    when=spec.get("when"),
                    started_at=r.started_at,
                    ended_at=r.ended_at,
                    deadline=r.deadline,
                    run_id=r.run_id,
                    decided_by=r.decided_by,
                    probe=probe,
                    run_row=children.get(r.run_id) if r.run_id else None,
                )
            )
        return cls(
            id=strawberry.ID(row.id),
            workflow_id=row.workflow_id,
            workflow_name=row.workflow_name,
            version=row.version,
            document=document,
            phase=row.phase,
            desired_state=row.desired_state,
            verdict=row.verdict,
            ending=row.ending,
            reasons=[str(r) for r in row.reasons or []],
            score=row.score,
            error=row.error,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            started_at=row.started_at,
            deadline=row.deadline,
            ended_at=row.ended_at,
            steps=steps,
        )


@strawberry.type(description="A refusal of a workflow document: the field path and why")
class ValidationIssue:
    field: list[str]
    message: str
    code: str

    @staticmethod
    async def of_document(
        info: strawberry.Info,
        validate: Callable[[Runtime, Session, Actor, Any], list[HubError]],
        document: Any,
    ) -> list[ValidationIssue]:
        """Every refusal ``validate`` finds in ``document``, for an operator; nothing saved."""
        from chaoshub.api.resolvers import ctx, read

        rt = ctx(info).runtime

        def q(s: Session, a: Actor) -> list[ValidationIssue]:
            return [
                ValidationIssue(field=e.field, message=e.message, code=e.code)
                for e in validate(rt, s, a, document)
            ]

        return await read(info, q, role="operator")


@strawberry.type(description="A kind of probe and the JSON Schema of a whole probe of that kind")
class ProbeKind:
    kind: str = strawberry.field(description="the key naming it in a probe: http, tcp...")
    description: str
    schema: JSONValue = strawberry.field(
        description="the common timing fields and the kind's block (required)"
    )


@strawberry.type
class WorkflowRunConnection:
    edges: list[Edge[WorkflowRun]]
    page_info: PageInfo
    total_count: int


WorkflowResult = Annotated[Union[Workflow, ERRORS], strawberry.union("WorkflowResult")]  # noqa: UP007
WorkflowRunResult = Annotated[
    Union[WorkflowRun, ERRORS],  # noqa: UP007
    strawberry.union("WorkflowRunResult"),
]
