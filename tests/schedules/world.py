"""A hub's database and services in the test process, for firing schedules at chosen clocks.

The runs a fire starts are stored as a real start stores them; ``Sent`` collects what would
have been handed to a worker (no worker runs here, so what is started stays active, which is
what the concurrency policies are about)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from chaoshub.runtime import Runtime
from chaoshub.schedules import firing
from chaoshub.services import backends, experiments, workflows
from chaoshub.services import schedules as svc
from chaoshub.services.auth import Actor
from chaoshub.store import db
from chaoshub.store.models import Schedule, ScheduleFire, WorkflowRun
from tests.support.stack import in_process_runtime

OPERATOR = Actor(name="scheduler-tester", role="operator")


@dataclass
class Sent:
    tasks: list[tuple[str, str, str]] = field(default_factory=list)

    def __call__(self, run_id: str, adapter: str, reason: str) -> None:
        self.tasks.append((run_id, adapter, reason))


@dataclass
class World:
    rt: Runtime
    tmp: Path
    sent: Sent = field(default_factory=Sent)

    def workflow(self, seconds: float = 30) -> str:
        with self.rt.session() as s:
            row = workflows.create(
                self.rt,
                s,
                OPERATOR,
                {
                    "kind": "Workflow",
                    "name": f"wait-{uuid.uuid4().hex[:6]}",
                    "steps": [{"id": "settle", "wait": {"seconds": seconds}}],
                },
            )
            return row.id

    def experiment(self) -> tuple[str, str]:
        """A saved experiment on a memory backend: (experiment id, backend id)."""
        name = f"mem-{uuid.uuid4().hex[:6]}"
        with self.rt.session() as s:
            backend = backends.create(
                s, name, "memory", {"state_path": str(self.tmp / f"{name}.json")}
            )
            row = experiments.create(
                self.rt,
                s,
                experiments.ExperimentInput(
                    name=f"exp-{name}",
                    fault_type="memory/latency",
                    backend=name,
                    params={"latency_ms": 5},
                    selector={"names": ["alpha"]},
                    duration_seconds=60,
                ),
            )
            return row.id, backend.id

    def schedule(self, **fields: Any) -> str:
        fields.setdefault("name", f"sched-{uuid.uuid4().hex[:6]}")
        with self.rt.session() as s:
            return svc.create(s, OPERATOR, svc.ScheduleInput(**fields)).id

    def row(self, schedule_id: str) -> Schedule:
        with self.rt.session() as s:
            row = s.get(Schedule, schedule_id)
            assert row is not None
            return row

    def fire(self, at: datetime) -> int:
        return firing.fire_due(self.rt, self.sent, at)

    def fire_after_next(self, schedule_id: str, seconds: float) -> datetime:
        """Fire with the clock ``seconds`` past the schedule's next tick; that tick."""
        tick = self.row(schedule_id).next_fire_at
        assert tick is not None
        self.fire(tick + timedelta(seconds=seconds))
        return tick

    def history(self, schedule_id: str) -> list[ScheduleFire]:
        with self.rt.session() as s:
            return svc.history(s, schedule_id, 1000)

    def workflow_runs(self, workflow_id: str) -> list[WorkflowRun]:
        with self.rt.session() as s:
            return list(
                s.scalars(
                    select(WorkflowRun)
                    .where(WorkflowRun.workflow_id == workflow_id)
                    .order_by(WorkflowRun.created_at)
                )
            )


@contextmanager
def world(tmp: Path) -> Iterator[World]:
    rt = in_process_runtime(tmp, admin="admin-" + uuid.uuid4().hex)
    try:
        yield World(rt, tmp)
    finally:
        db.dispose_all()
