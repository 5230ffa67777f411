"""GraphQL types of threshold searches: the trials, each objective's value, the result."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Union

import strawberry

from chaoshub.api.types.common import ERRORS, Edge, JSONValue, PageInfo
from chaoshub.store import models
from chaoshub.thresholds.document import parse_search
from chaoshub.thresholds.search import expected_trials


@strawberry.type(description="An objective's value over one trial's samples")
class ObjectiveValue:
    metric: str = strawberry.field(description="latencyMsP95, successRatio, ...")
    comparator: str
    target: float
    value: float | None = strawberry.field(description="null: no sample to compute it from")
    held: bool


@strawberry.type(description="One SLO probe in one trial")
class SloResult:
    probe: str
    samples: int = strawberry.field(description="samples taken while the fault was in place")
    passed: int
    objectives: list[ObjectiveValue]


@strawberry.type(description="One trial: the fault held at one magnitude, as a workflow run")
class Trial:
    magnitude: float
    workflow_run_id: str | None
    outcome: str = strawberry.field(
        description="held | broke | inconclusive | stopped | interrupted (by a pause: "
        "never counted, its magnitude re-run on resume)"
    )
    reason: str
    started_at: str | None
    ended_at: str | None
    window_seconds: float | None = strawberry.field(
        description="how long the fault was in place (the samples' window)"
    )
    slo: list[SloResult]

    @classmethod
    def build(cls, data: dict[str, Any]) -> Trial:
        return cls(
            magnitude=float(data.get("magnitude") or 0),
            workflow_run_id=data.get("workflowRunId"),
            outcome=data.get("outcome", ""),
            reason=data.get("reason", ""),
            started_at=data.get("startedAt"),
            ended_at=data.get("endedAt"),
            window_seconds=data.get("windowSeconds"),
            slo=[
                SloResult(
                    probe=s["probe"],
                    samples=s["samples"],
                    passed=s["passed"],
                    objectives=[ObjectiveValue(**o) for o in s["objectives"]],
                )
                for s in data.get("slo") or []
            ],
        )


@strawberry.type(description="What a search found")
class ThresholdResult:
    found: bool = strawberry.field(
        description="true when a magnitude held and a higher one broke, without noise"
    )
    held_max: float | None = strawberry.field(description="the highest magnitude that held")
    broke_min: float | None = strawberry.field(description="the lowest magnitude that broke")
    noisy: list[str] = strawberry.field(description="where the trials disagree")
    message: str
    trials: int
    expected_trials: int


@strawberry.type(description="A search for the highest magnitude of a fault the SLOs tolerate")
class ThresholdSearch:
    id: strawberry.ID
    name: str
    phase: str = strawberry.field(
        description="pending | running | paused | completed | aborted | failed"
    )
    desired_state: str
    param: str
    strategy: str
    expected_trials: int = strawberry.field(
        description="at most this many trials (bisection: 2 + ceil(log2(range / resolution)))"
    )
    current_magnitude: float | None
    current_workflow_run_id: str | None
    trials: list[Trial]
    result: ThresholdResult | None
    reasons: list[str]
    document: JSONValue
    created_by: str
    created_at: datetime
    ended_at: datetime | None

    @classmethod
    def build(cls, row: models.ThresholdSearch) -> ThresholdSearch:
        doc = parse_search(row.document)
        assert doc is not None
        r = row.result
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            phase=row.phase,
            desired_state=row.desired_state,
            param=doc.param,
            strategy=doc.strategy,
            expected_trials=expected_trials(doc),
            current_magnitude=row.current_magnitude,
            current_workflow_run_id=row.current_workflow_run_id,
            trials=[Trial.build(t) for t in row.trials or []],
            result=ThresholdResult(
                found=r["found"],
                held_max=r["heldMax"],
                broke_min=r["brokeMin"],
                noisy=list(r["noisy"]),
                message=r["message"],
                trials=r["trials"],
                expected_trials=r["expectedTrials"],
            )
            if r
            else None,
            reasons=[str(x) for x in row.reasons or []],
            document=row.document,
            created_by=row.created_by,
            created_at=row.created_at,
            ended_at=row.ended_at,
        )


@strawberry.type
class ThresholdSearchConnection:
    edges: list[Edge[ThresholdSearch]]
    page_info: PageInfo
    total_count: int


ThresholdSearchResult = Annotated[
    Union[ThresholdSearch, ERRORS],  # noqa: UP007
    strawberry.union("ThresholdSearchResult"),
]
