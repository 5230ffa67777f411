"""Threshold searches: start one from a document, follow its trials, abort it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoshub.api.paging import newest_first, newest_first_cursor, paginate
from chaoshub.api.resolvers import Outcome, ctx, mutate, read
from chaoshub.api.types.common import JSONValue
from chaoshub.api.types.thresholds import (
    ThresholdSearch,
    ThresholdSearchConnection,
    ThresholdSearchResult,
)
from chaoshub.api.types.workflows import ValidationIssue
from chaoshub.errors import InvalidInput
from chaoshub.execution.reconciler import WORKFLOW
from chaoshub.lifecycle import Phase
from chaoshub.services import thresholds as svc
from chaoshub.services.auth import Actor
from chaoshub.store import models


@strawberry.input(description="A ThresholdSearch document (kind: ThresholdSearch)")
class StartThresholdSearchInput:
    document: JSONValue


@strawberry.type
class ThresholdQuery:
    @strawberry.field(description="Threshold searches, newest first, in the given phases if any")
    async def threshold_searches(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
        phase: list[str] | None = None,
    ) -> ThresholdSearchConnection:
        def q(s: Session, _a: Actor) -> ThresholdSearchConnection:
            base = select(models.ThresholdSearch)
            if phase:
                bad = [p for p in phase if p not in {x.value for x in Phase}]
                if bad:
                    raise InvalidInput(f"unknown phase {bad[0]!r}", field=["phase"])
                base = base.where(models.ThresholdSearch.phase.in_(phase))
            page = newest_first(base, models.ThresholdSearch, after)
            edges, page_info, total = paginate(
                s, info, base, page, first, newest_first_cursor, ThresholdSearch.build
            )
            return ThresholdSearchConnection(edges=edges, page_info=page_info, total_count=total)

        return await read(info, q)

    @strawberry.field(description="One threshold search with its trials and result")
    async def threshold_search(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> ThresholdSearch | None:
        def q(s: Session, _a: Actor) -> ThresholdSearch | None:
            row = s.get(models.ThresholdSearch, str(id))
            return ThresholdSearch.build(row) if row is not None else None

        return await read(info, q)

    @strawberry.field(
        description="Every refusal a threshold-search document would get (the tools' checks "
        "at both ends of its range included), without starting it; empty when it is valid"
    )
    async def validate_threshold_search(
        self, info: strawberry.Info, document: JSONValue
    ) -> list[ValidationIssue]:
        return await ValidationIssue.of_document(info, svc.validate, document)


@strawberry.type
class ThresholdMutation:
    @strawberry.mutation(
        description="Validate a threshold-search document whole and start the search: its "
        "trials run one after another as workflow runs"
    )
    async def start_threshold_search(
        self, info: strawberry.Info, input: StartThresholdSearchInput
    ) -> ThresholdSearchResult:
        rt = ctx(info).runtime

        def fn(s: Session, a: Actor) -> Outcome:
            row = svc.start(rt, s, a, input.document)
            s.flush()
            return Outcome(ThresholdSearch.build(row), subject=row.name)

        return await mutate(
            info, "startThresholdSearch", "operator", {"document": input.document}, fn
        )

    @strawberry.mutation(
        description="Stop a threshold search and its current trial (whose fault is recovered)"
    )
    async def abort_threshold_search(
        self, info: strawberry.Info, id: strawberry.ID, reason: str = ""
    ) -> ThresholdSearchResult:
        return await mutate(
            info,
            "abortThresholdSearch",
            "operator",
            {"id": str(id), "reason": reason},
            _change(info, lambda s, a: svc.abort(s, a, str(id), reason)),
        )

    @strawberry.mutation(
        description="Pause a threshold search: no next trial starts, and a trial under way is "
        "interrupted (its workflow run paused, or aborted when it cannot pause; its fault "
        "recovered either way). The interrupted trial is re-run from scratch on resume."
    )
    async def pause_threshold_search(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> ThresholdSearchResult:
        rt = ctx(info).runtime
        return await mutate(
            info,
            "pauseThresholdSearch",
            "operator",
            {"id": str(id)},
            _change(info, lambda s, a: svc.pause(rt, s, a, str(id))),
        )

    @strawberry.mutation(
        description="Resume a paused threshold search: a trial the pause interrupted is ended "
        "unused and its magnitude re-run from scratch, then the search goes on"
    )
    async def resume_threshold_search(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> ThresholdSearchResult:
        return await mutate(
            info,
            "resumeThresholdSearch",
            "operator",
            {"id": str(id)},
            _change(info, lambda s, a: svc.resume(s, a, str(id))),
        )


def _change(
    info: strawberry.Info,
    change: Callable[[Session, Actor], tuple[models.ThresholdSearch, str | None]],
) -> Callable[[Session, Actor], Outcome]:
    """A mutation's work on one search: ``change`` it and answer with it; the workflow run
    the change woke, if any, is dispatched after commit."""
    c = ctx(info)

    def fn(s: Session, a: Actor) -> Outcome:
        row, woken = change(s, a)
        hooks: list[Any] = []
        if woken is not None:
            hooks = [lambda: c.dispatch(woken, WORKFLOW, "workflow")]
        return Outcome(ThresholdSearch.build(row), subject=row.id, after_commit=hooks)

    return fn
