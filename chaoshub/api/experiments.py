"""Experiments: a saved fault, backend, parameters and selector that runs are started from."""

from __future__ import annotations

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoshub.api.resolvers import Outcome, ctx, mutate, plain, read
from chaoshub.api.types.common import Deleted, DeleteResult, JSONValue
from chaoshub.api.types.experiments import Experiment, ExperimentResult
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
        return await read(
            info,
            lambda s, a: [
                Experiment.build(e)
                for e in s.scalars(select(models.Experiment).order_by(models.Experiment.name))
            ],
        )

    @strawberry.field
    async def experiment(self, info: strawberry.Info, id: strawberry.ID) -> Experiment | None:
        return await read(
            info,
            lambda s, a: (lambda e: Experiment.build(e) if e else None)(
                s.get(models.Experiment, str(id))
            ),
        )


@strawberry.type
class ExperimentMutation:
    @strawberry.mutation
    async def create_experiment(
        self, info: strawberry.Info, input: CreateExperimentInput
    ) -> ExperimentResult:
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
            return Outcome(Experiment.build(row), subject=row.name, audit_message=note)

        return await mutate(info, "createExperiment", "operator", plain(input), fn)

    @strawberry.mutation
    async def update_experiment(
        self, info: strawberry.Info, input: UpdateExperimentInput
    ) -> ExperimentResult:
        rt = ctx(info).runtime

        def fn(s: Session, a: Actor) -> Outcome:
            changes = {k: v for k, v in vars(input).items() if k != "id" and v is not None}
            row = experiments.update(rt, s, str(input.id), changes, actor=a)
            s.refresh(row)
            note = runs_svc.override_note(runs_svc.overrides_in(rt, row))
            return Outcome(Experiment.build(row), subject=row.name, audit_message=note)

        return await mutate(info, "updateExperiment", "operator", plain(input), fn)

    @strawberry.mutation
    async def delete_experiment(self, info: strawberry.Info, id: strawberry.ID) -> DeleteResult:
        def fn(s: Session, a: Actor) -> Outcome:
            row = experiments.delete(s, str(id))
            return Outcome(Deleted(id=strawberry.ID(row.id)), subject=row.name)

        return await mutate(info, "deleteExperiment", "operator", {"id": str(id)}, fn)
