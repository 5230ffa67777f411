"""Several beats, one start per tick; a hub that was down does not start late in a burst.

On PostgreSQL: two passes of the beat task racing for the same ticks (threads released
together), and real ``chaoshub beat`` processes — two at once, then none for longer than
the start deadline — beside an API and a worker, on the test Redis."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select

from chaoshub.config import Settings
from chaoshub.runtime import Runtime
from chaoshub.schedules import firing
from chaoshub.services import schedules as svc
from chaoshub.store import db
from chaoshub.store.models import ScheduleFire, WorkflowRun
from tests.schedules.api import DELETE_SCHEDULE, HISTORY, PAUSE_SCHEDULE, create, wait_workflow
from tests.schedules.world import Sent, World
from tests.support.stack import GraphQL, Stack, wait_for

pytestmark = pytest.mark.postgres

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_name() -> Iterator[str]:
    name = f"chaoshub_sched_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        db.dispose_all()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_two_passes_racing_for_the_same_ticks_start_each_once(pg_name: str, tmp_path: Path) -> None:
    rt = Runtime(
        Settings.from_env(
            data_dir=tmp_path,
            database_url=f"postgresql://postgres@127.0.0.1:5432/{pg_name}",
            bus_url="local",
        )
    )
    rt.migrate()
    w = World(rt, tmp_path)
    flow = w.workflow(seconds=1)
    sid = w.schedule(workflow_id=flow, cron="@every 30s", concurrency_policy="allow")
    sent = Sent()
    ticks = 6
    for _ in range(ticks):
        tick = w.row(sid).next_fire_at
        assert tick is not None
        at = tick + timedelta(seconds=0.2)
        gate = threading.Barrier(2)
        claimed: list[int] = []

        def one_pass(
            clock: datetime = at, barrier: threading.Barrier = gate, out: list[int] = claimed
        ) -> None:
            barrier.wait()
            out.append(firing.fire_due(rt, sent, clock))

        passes = [threading.Thread(target=one_pass) for _ in range(2)]
        for p in passes:
            p.start()
        for p in passes:
            p.join(30)
        assert sorted(claimed) == [0, 1], claimed

    with rt.session() as s:
        fires = svc.history(s, sid, 100)
        runs = s.scalar(
            select(func.count()).select_from(WorkflowRun).where(WorkflowRun.workflow_id == flow)
        )
    assert [f.outcome for f in fires] == ["fired"] * ticks
    assert len({f.scheduled_for for f in fires}) == ticks
    assert runs == ticks
    assert len(sent.tasks) == ticks


# -- real beat processes ------------------------------------------------------------------------


@pytest.fixture
def stack(pg_name: str, tmp_path: Path) -> Iterator[Stack]:
    s = Stack(workdir=tmp_path, database_url=f"postgresql://postgres@127.0.0.1:5432/{pg_name}")
    try:
        s.start_api()
        s.start_worker()
        yield s
    except BaseException:
        print(s.logs())
        raise
    finally:
        s.stop()


class HubView:
    """What the test reads back: through the API, and the database as the beat left it."""

    def __init__(self, stack: Stack) -> None:
        self.gql = GraphQL(stack.url)
        self.database_url = stack.database_url

    def history(self, schedule_id: str) -> list[dict[str, Any]]:
        return self.gql(HISTORY, id=schedule_id)["schedule"]["history"]  # type: ignore[no-any-return]

    def claims(self, schedule_id: str) -> list[tuple[datetime, str]]:
        with db.session_scope(self.database_url) as s:
            return [
                (f.scheduled_for, f.outcome)
                for f in s.scalars(
                    select(ScheduleFire)
                    .where(ScheduleFire.schedule_id == schedule_id)
                    .order_by(ScheduleFire.scheduled_for)
                )
            ]

    def workflow_runs(self, workflow_id: str) -> int:
        with db.session_scope(self.database_url) as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(WorkflowRun)
                    .where(WorkflowRun.workflow_id == workflow_id)
                )
                or 0
            )


def test_two_beat_processes_start_each_tick_exactly_once(stack: Stack) -> None:
    hub = HubView(stack)
    flow = wait_workflow(hub, 0.2)  # type: ignore[arg-type]
    # at debug: a beat says it sent the schedules' tick only then (chaoshub/logs.py)
    beats = [stack.start_beat("beat-a", "debug"), stack.start_beat("beat-b", "debug")]
    for beat in beats:
        wait_for(lambda b=beat: "fire-schedules" in b.log.read_text(), 60, what=beat.name)
    sched = create(hub, workflowId=flow, cron="@every 1s", concurrencyPolicy="allow")  # type: ignore[arg-type]
    assert sched["__typename"] == "Schedule", sched
    try:
        wait_for(lambda: len(hub.history(sched["id"])) >= 12, 60, what="12 ticks handled")
        hub.gql(PAUSE_SCHEDULE, id=sched["id"], reason="test over")
        time.sleep(2)  # what the beats sent before the pause is handled
        for beat in beats:  # both were sending the task all along
            assert beat.log.read_text().count("fire-schedules") >= 5, beat.tail()
        claims = hub.claims(sched["id"])
        ticks = [at for at, _ in claims]
        assert len(ticks) == len(set(ticks))
        assert all(b - a == timedelta(seconds=1) for a, b in pairwise(ticks))
        fired = [at for at, outcome in claims if outcome == "fired"]
        assert len(fired) >= 10, claims
        assert hub.workflow_runs(flow) == len(fired), "a tick was started twice"
    finally:
        hub.gql(DELETE_SCHEDULE, id=sched["id"])


def test_a_start_missed_while_no_beat_ran_is_recorded_not_fired_late(stack: Stack) -> None:
    hub = HubView(stack)
    flow = wait_workflow(hub, 0.2)  # type: ignore[arg-type]
    beat = stack.start_beat("beat", "debug")
    wait_for(lambda: "fire-schedules" in beat.log.read_text(), 60, what="beat")
    sched = create(
        hub,  # type: ignore[arg-type]
        workflowId=flow,
        cron="@every 1s",
        concurrencyPolicy="allow",
        startingDeadlineSeconds=3,
    )
    try:
        wait_for(lambda: len(hub.history(sched["id"])) >= 3, 60, what="ticks while beat runs")
        beat.stop()
        stopped = datetime.now(UTC)
        time.sleep(10)  # the hub fires nothing: ten ticks pass, most beyond the deadline
        stack.start_beat("beat-again")
        wait_for(
            lambda: any(
                e["outcome"] == "missed" and datetime.fromisoformat(e["at"]) > stopped
                for e in hub.history(sched["id"])
            ),
            60,
            what="the outage recorded",
        )
        wait_for(
            lambda: sum(e["outcome"] == "fired" for e in hub.history(sched["id"])[-3:]) >= 2,
            30,
            what="firing again after the outage",
        )
        hub.gql(PAUSE_SCHEDULE, id=sched["id"])
        entries = hub.history(sched["id"])
        # recorded once the beat is back: one row for the stretch (a busy machine may add
        # another for a pass that came late)
        missed = [
            e
            for e in entries
            if e["outcome"] == "missed" and datetime.fromisoformat(e["at"]) > stopped
        ]
        assert missed, entries
        outage = missed[0]
        assert "the hub was not firing schedules" in outage["reason"]
        fired_in_outage = [
            e
            for e in entries
            if e["outcome"] == "fired"
            and datetime.fromisoformat(outage["scheduledFor"])
            < datetime.fromisoformat(e["scheduledFor"])
            < datetime.fromisoformat(outage["at"]) - timedelta(seconds=3)
        ]
        assert fired_in_outage == [], "a tick of the outage was fired late"
        for e in entries:
            if e["outcome"] == "fired":  # nothing started more than the deadline late
                late = datetime.fromisoformat(e["at"]) - datetime.fromisoformat(e["scheduledFor"])
                assert late <= timedelta(seconds=3.5), e
    finally:
        hub.gql(DELETE_SCHEDULE, id=sched["id"])
