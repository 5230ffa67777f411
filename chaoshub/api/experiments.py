"""Experiments: a saved fault, backend, parameters and selector that runs are started from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from sqlalchemy.orm import Session

from chaoshub.api.resolvers import Outcome, by_name, ctx, mutate, plain, read
from chaoshub.api.types.common import Deleted, DeleteResult, JSONValue
from chaoshub.api.types.experiments import Experiment, ExperimentResult
from chaoshub.runtime import Runtime
from chaoshub.services import experiments
from chaoshub.services import runs as runs_svc
from chaoshub.services.auth import Actor
from chaoshub.store import models


@strawberry.input
class CreateExperimentInput:
    name: str
    fault_type: str
    backend: str
    params: JSONValue | None = None
    selector: JSONValue | None = None
    duration_seconds: float | None = None
    description: str = ""


@strawberry.input
class UpdateExperimentInput:
    id: strawberry.ID
    name: str | None = None
    fault_type: str | None = None
    backend: str | None = None
    params: JSONValue | None = None
    selector: JSONValue | None = None
    duration_seconds: float | None = None
    description: str | None = None


@strawberry.type
class ExperimentQuery:
    @strawberry.field
    async def experiments(self, info: strawberry.Info) -> list[Experiment]:
        return await by_name(info, models.Experiment, Experiment.build)

    @strawberry.field
    async def experiment(self, info: strawberry.Info, id: strawberry.ID) -> Experiment | None:
        return await read(
            info,
            lambda s, a: (lambda e: Experiment.build(e) if e else None)(
                s.get(models.Experiment, str(id))
            ),
        )


async def _save(
    info: strawberry.Info,
    action: str,
    input: CreateExperimentInput | UpdateExperimentInput,
    write: Callable[[Runtime, Session, Actor], models.Experiment],
) -> Any:
    """An experiment written by ``write`` as the mutation's result, with any admin override
    its fault needed said in the audit entry."""
    rt = ctx(info).runtime

    def fn(s: Session, a: Actor) -> Outcome:
        row = write(rt, s, a)
        s.refresh(row)
        note = runs_svc.override_note(runs_svc.overrides_in(rt, row))
        return Outcome(Experiment.build(row), subject=row.name, audit_message=note)

    return await mutate(info, action, "operator", plain(input), fn)


def _created(input: CreateExperimentInput) -> experiments.ExperimentInput:
    return experiments.ExperimentInput(
        name=input.name,
        fault_type=input.fault_type,
        backend=input.backend,
        params=experiments.require_object(input.params, "params"),
        selector=experiments.require_object(input.selector, "selector"),
        duration_seconds=input.duration_seconds,
        description=input.description,
    )


@strawberry.type
class ExperimentMutation:
    @strawberry.mutation
    async def create_experiment(
        self, info: strawberry.Info, input: CreateExperimentInput
    ) -> ExperimentResult:
        return await _save(
            info,
            "createExperiment",
            input,
            lambda rt, s, a: experiments.create(rt, s, _created(input), actor=a),
        )

    @strawberry.mutation
    async def update_experiment(
        self, info: strawberry.Info, input: UpdateExperimentInput
    ) -> ExperimentResult:
        def write(rt: Runtime, s: Session, a: Actor) -> models.Experiment:
            changes = {k: v for k, v in vars(input).items() if k != "id" and v is not None}
            return experiments.update(rt, s, str(input.id), changes, actor=a)

        return await _save(info, "updateExperiment", input, write)

    @strawberry.mutation
    async def delete_experiment(self, info: strawberry.Info, id: strawberry.ID) -> DeleteResult:
        def fn(s: Session, a: Actor) -> Outcome:
            row = experiments.delete(s, str(id))
            return Outcome(Deleted(id=strawberry.ID(row.id)), subject=row.name)

        return await mutate(info, "deleteExperiment", "operator", {"id": str(id)}, fn)
