"""The hub's own documents that have no module of their own: a saved experiment (one fault
with a name) and a schedule that embeds what it starts. Workflows and threshold searches
are :mod:`chaoshub.workflows.document` and :mod:`chaoshub.thresholds.document`.

```yaml
kind: Experiment                 # or Run / no kind: a single fault file
name: cart-delay
faultType: chaos-mesh/network-delay
backend: mesh-east
selector: {labels: {app: cart}}
params: {latency_ms: 200}
durationSeconds: 30
---
kind: Schedule
name: nightly-cart-delay
cron: "0 2 * * *"                # 5 fields, @daily..., or @every 90s
timeZone: UTC
concurrencyPolicy: forbid        # forbid | allow | replace
startingDeadlineSeconds: 60
blackouts: [{days: [sat, sun]}]
experiment: {...}                # or workflow: {...}: exactly one
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from chaoshub.probes.base import Spec
from chaoshub.workflows.document import FaultSpec


class ExperimentDocument(FaultSpec):
    kind: Literal["Experiment"] = "Experiment"
    name: str = Field(min_length=1, max_length=200, description="the saved experiment's name")
    description: str = Field(default="", max_length=4000)


class ScheduleDocument(Spec):
    kind: Literal["Schedule"] = "Schedule"
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    cron: str = Field(
        min_length=1,
        max_length=200,
        description="5 cron fields, @hourly/@daily/@weekly/@monthly/@yearly, or @every 90s",
    )
    timeZone: str = Field(default="UTC", description="an IANA name such as Europe/Paris")
    concurrencyPolicy: Literal["forbid", "allow", "replace"] = "forbid"
    startingDeadlineSeconds: float | None = Field(default=None, ge=0, le=86400)
    blackouts: list[dict[str, Any]] = Field(
        default_factory=list,
        description='no start inside: [{"days": ["sat", "sun"]}, {"start": "22:00", "end": '
        '"06:00"}], in the schedule\'s time zone',
    )
    experiment: dict[str, Any] | None = Field(default=None, description="an Experiment document")
    workflow: dict[str, Any] | None = Field(default=None, description="a Workflow document")

    @model_validator(mode="after")
    def _one_target(self) -> ScheduleDocument:
        if (self.experiment is None) == (self.workflow is None):
            raise ValueError("a schedule starts an experiment or a workflow: give exactly one")
        return self
