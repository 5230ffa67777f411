"""The outbox on SQLite and PostgreSQL: a delivery is owed only when its event commits, two
drains at once deliver each event once and in order, and a drain that died holding a sink
is taken over when its lease lapses."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from chaoshub.config import Settings
from chaoshub.events_out import drain
from chaoshub.runtime import Runtime
from chaoshub.services import event_sinks, events
from chaoshub.services.auth import Actor
from chaoshub.store import db
from chaoshub.store.models import EventDelivery, EventSink
from tests.events_out.receiver import Receiver

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
ADMIN = Actor(name="admin", role="admin")


@pytest.fixture(params=["sqlite", "postgresql"])
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    name = f"chaoshub_test_{uuid.uuid4().hex[:10]}"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    rt = Runtime(Settings.from_env(data_dir=tmp_path, database_url=url, bus_url="local"))
    try:
        rt.migrate()
        yield rt
    finally:
        db.dispose_all()
        if request.param == "postgresql":
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def sink(rt: Runtime, url: str) -> str:
    with rt.session() as s:
        return event_sinks.create(
            s,
            ADMIN,
            event_sinks.SinkInput(name=f"s-{uuid.uuid4().hex[:6]}", kind="webhook", url=url),
        ).id


def owed(rt: Runtime) -> int:
    with rt.session() as s:
        return s.query(EventDelivery).count()


def test_a_delivery_is_owed_only_when_its_event_commits(
    runtime: Runtime, receiver: Receiver
) -> None:
    sink(runtime, receiver.url)
    with pytest.raises(RuntimeError), runtime.session() as s:
        events.record(s, "created", "rolled back", run_id="r-0")
        s.flush()
        raise RuntimeError("the transaction fails after the event was written")
    assert owed(runtime) == 0
    with runtime.session() as s:
        events.record(s, "created", "kept", run_id="r-1")
    assert owed(runtime) == 1
    assert drain.drain(runtime) == 1
    assert [e["data"]["reason"] for e in receiver.events()] == ["kept"]


def test_two_drains_at_once_deliver_each_event_once_in_order(
    runtime: Runtime, receiver: Receiver
) -> None:
    receiver.delay = 0.02  # long enough for the drains to overlap
    sink(runtime, receiver.url)
    with runtime.session() as s:
        written = [events.record(s, "created", f"event {i}", run_id=f"r-{i}") for i in range(30)]
        s.flush()
        ids = [str(e.id) for e in written]
    threads = [threading.Thread(target=drain.drain, args=(runtime,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    while drain.drain(runtime):  # what a later pass picks up, if a drain ran out of budget
        pass
    assert len(receiver.received) == 30  # no event sent twice
    assert [e["id"] for e in receiver.events()] == ids


def test_a_sink_held_by_a_drain_that_died_is_taken_over(
    runtime: Runtime, receiver: Receiver
) -> None:
    sink_id = sink(runtime, receiver.url)
    with runtime.session() as s:
        events.record(s, "created", "waiting", run_id="r-1")
        row = s.get(EventSink, sink_id)
        assert row is not None
        row.drain_owner = "a drain that was killed"
        row.drain_until = datetime.now(UTC) + timedelta(seconds=60)
    assert drain.drain(runtime) == 0  # its lease still holds
    with runtime.session() as s:
        row = s.get(EventSink, sink_id)
        assert row is not None
        row.drain_until = datetime.now(UTC) - timedelta(seconds=1)
    assert drain.drain(runtime) == 1
    assert [e["data"]["reason"] for e in receiver.events()] == ["waiting"]
