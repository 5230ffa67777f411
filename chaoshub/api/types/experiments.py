"""Experiment types: a saved fault, backend, parameters and selector to start runs from."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Union

import strawberry

from chaoshub.api.types.common import ERRORS, JSONValue
from chaoshub.store import models


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


ExperimentResult = Annotated[Union[Experiment, ERRORS], strawberry.union("ExperimentResult")]  # noqa: UP007
