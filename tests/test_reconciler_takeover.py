"""A run (or a workflow run) whose worker died is taken over by exactly one new worker.

The reconciler clears the lapsed lease and sends the run to a worker. That worker may claim
the run before the reconciler's pass has committed (the task is on the broker at once), and
a second pass may run beside the first (a worker that starts after an outage takes every
queued reconciler tick at once): neither may clear the new worker's fresh lease, or a
second worker claims the run too and both drive it — a workflow's fault step started twice,
as the workflow fault matrix saw.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from chaoshub.config import Settings
from chaoshub.execution.lease import Lease
from chaoshub.execution.reconciler import reconcile
from chaoshub.runtime import Runtime
from chaoshub.services import backends
from chaoshub.services import runs as runs_svc
from chaoshub.services import workflows as workflows_svc
from chaoshub.services.auth import Actor
from chaoshub.store import db
from chaoshub.store.models import Run, WorkflowRun

pytestmark = pytest.mark.postgres

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
OPERATOR = Actor(name="tester", role="operator")


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    name = f"chaoshub_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    rt = Runtime(
        Settings.from_env(
            data_dir=tmp_path,
            database_url=f"postgresql://postgres@127.0.0.1:5432/{name}",
            bus_url="local",
            run_lease_seconds=5,
        )
    )
    try:
        rt.migrate()
        yield rt
    finally:
        db.dispose_all()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def abandoned(rt: Runtime, model: type[Run] | type[WorkflowRun], row_id: str) -> None:
    """As a SIGKILLed worker leaves it: held by a worker that no longer renews its lease."""
    with rt.session() as s:
        row = s.get(model, row_id)
        assert row is not None
        row.worker = "dead-worker"
        row.lease_until = datetime.now(UTC) - timedelta(seconds=1)
        row.updated_at = datetime.now(UTC) - timedelta(minutes=1)


def holder(rt: Runtime, model: type[Run] | type[WorkflowRun], row_id: str) -> str | None:
    with rt.session() as s:
        row = s.get(model, row_id)
        assert row is not None
        return row.worker


class TakenAtOnce:
    """A dispatch whose task a worker takes at once: the worker claims the run while the
    reconciler's pass is still open (given a second to, so a claim that need not wait for
    that pass is done before the pass ends)."""

    def __init__(self, claim: Callable[[], bool]) -> None:
        self.claim = claim
        self.claims: list[bool] = []
        self.threads: list[threading.Thread] = []

    def __call__(self, *_sent: str) -> None:
        t = threading.Thread(target=lambda: self.claims.append(self.claim()))
        t.start()
        self.threads.append(t)
        t.join(timeout=1.0)

    def done(self) -> list[bool]:
        for t in self.threads:
            t.join(timeout=30)
        return self.claims


def test_the_worker_a_workflow_run_is_sent_to_keeps_it_and_no_second_one_claims_it(
    runtime: Runtime,
) -> None:
    with runtime.session() as s:
        wr = workflows_svc.start(
            runtime,
            s,
            OPERATOR,
            document={
                "kind": "Workflow",
                "name": f"takeover-{uuid.uuid4().hex[:6]}",
                "steps": [{"id": "settle", "wait": {"seconds": 5}}],
            },
        )
        wr_id = wr.id
    abandoned(runtime, WorkflowRun, wr_id)

    dispatch = TakenAtOnce(Lease(runtime, WorkflowRun, wr_id, "new-worker").claim)
    assert reconcile(runtime, dispatch) == 1
    assert dispatch.done() == [True]
    assert holder(runtime, WorkflowRun, wr_id) == "new-worker", "its fresh lease was cleared"
    assert not Lease(runtime, WorkflowRun, wr_id, "another-worker").claim(), (
        "a second worker could drive it too"
    )


def test_the_worker_a_run_is_sent_to_keeps_it_and_no_second_one_claims_it(
    runtime: Runtime, tmp_path: Path
) -> None:
    name = f"mem-{uuid.uuid4().hex[:6]}"
    with runtime.session() as s:
        backends.create(s, name, "memory", {"state_path": str(tmp_path / f"{name}.json")})
    with runtime.session() as s:
        run_id = runs_svc.start(
            runtime,
            s,
            OPERATOR,
            runs_svc.RunSpec("memory/latency", name, {"latency_ms": 5}, {"names": ["alpha"]}, 60),
        ).id
    abandoned(runtime, Run, run_id)
    dispatch = TakenAtOnce(Lease(runtime, Run, run_id, "new-worker").claim)
    assert reconcile(runtime, dispatch) == 1
    assert dispatch.done() == [True]
    assert holder(runtime, Run, run_id) == "new-worker", "its fresh lease was cleared"
    assert not Lease(runtime, Run, run_id, "another-worker").claim(), (
        "a second worker could drive it too"
    )
