"""Heartbeats write no database row: an agent's last beat (and its host report) is kept in
memory (embedded) or in the broker's Redis (production), and the reconciler writes the
agents' ``last_heartbeat`` in one batch, only for rows older than the offline timeout.
Offline detection keeps its accuracy: a silent agent is offline within the timeout plus
one reconciler pass, never before the timeout. The hub is the real API over HTTP; the
reconciler is the real pass, called by the test."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import event

from chaoshub.execution import reconciler
from chaoshub.services.presence import RedisPresence
from chaoshub.store import db
from tests.support.api_server import Hub, serve
from tests.support.stack import REDIS_TEST_URL

TIMEOUT = 2.0


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with serve(tmp_path, agent_timeout_seconds=TIMEOUT) as h:
        yield h


@contextmanager
def updates_of_agents(hub: Hub) -> Iterator[list[tuple[str, bool]]]:
    """Every UPDATE statement on the ``agents`` table while inside (statement, executemany)."""
    seen: list[tuple[str, bool]] = []
    engine = db.engine_for(hub.runtime.settings.database_url)

    def record(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("UPDATE AGENTS"):
            seen.append((statement, many))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def registered(hub: Hub) -> tuple[str, str]:
    name = f"beat-{uuid.uuid4().hex[:6]}"
    token, _ = hub.token("agent", agent_name=name)
    answer = hub.register(token, name)
    assert answer.status_code == 200, answer.text
    return name, token


def beat(hub: Hub, name: str, token: str, **extra: Any) -> None:
    answer = hub.post("/agents/heartbeat", {"name": name, "active": [], **extra}, token)
    assert answer.status_code == 200, answer.text


def reconcile(hub: Hub) -> None:
    reconciler.reconcile(hub.runtime, lambda *a: None)


def test_heartbeats_write_no_agent_row(tmp_path: Path) -> None:
    # a timeout no loaded machine reaches within the beats: no row is due for its batch flush
    with serve(tmp_path, agent_timeout_seconds=60) as hub:
        beats_write_nothing(hub)


def beats_write_nothing(hub: Hub) -> None:
    name, token = registered(hub)
    limits = {"guards": {"max_stressors": 4}, "host": {"cpus": 2}}
    with updates_of_agents(hub) as updates:
        for _ in range(30):
            beat(hub, name, token, limits=limits)
            reconcile(hub)  # a pass within the timeout has nothing to write either
    assert updates == []
    kept = hub.runtime.presence.reports([name])[name]
    assert kept["limits"] == limits
    assert hub.agent(name).online  # type: ignore[union-attr]


def test_a_beat_that_changes_something_still_writes_the_row(hub: Hub) -> None:
    name, token = registered(hub)
    caps = {"cpu-stress": {"available": True, "reason": ""}}
    with updates_of_agents(hub) as updates:
        beat(hub, name, token, capabilities=caps)
    assert len(updates) == 1
    assert hub.agent(name).capabilities == caps  # type: ignore[union-attr]


def test_last_seen_reaches_the_rows_in_one_batch_once_they_are_older_than_the_timeout(
    hub: Hub,
) -> None:
    agents = [registered(hub) for _ in range(5)]
    deadline = time.monotonic() + TIMEOUT + 0.5
    while time.monotonic() < deadline:  # all keep beating past the timeout
        for name, token in agents:
            beat(hub, name, token)
        time.sleep(0.2)
    with updates_of_agents(hub) as updates:
        reconcile(hub)
    assert len(updates) == 1 and updates[0][1], updates  # one statement for all five rows
    for name, _ in agents:
        row = hub.agent(name)
        assert row is not None and row.online
        assert row.last_heartbeat is not None
        written = row.last_heartbeat
        written = written if written.tzinfo else written.replace(tzinfo=UTC)
        assert (datetime.now(UTC) - written).total_seconds() < 1.0


def test_a_silent_agent_goes_offline_after_the_timeout_and_not_before(hub: Hub) -> None:
    name, token = registered(hub)
    for _ in range(3):
        last = time.monotonic()  # taken before the beat: the hub's record is no earlier
        beat(hub, name, token)
        time.sleep(0.2)
    offline_at = None
    while offline_at is None and time.monotonic() - last < TIMEOUT + 5:
        reconcile(hub)
        row = hub.agent(name)
        assert row is not None
        if not row.online:
            offline_at = time.monotonic() - last
        time.sleep(0.1)
    assert offline_at is not None, "the silent agent never went offline"
    assert TIMEOUT <= offline_at <= TIMEOUT + 1.0, offline_at
    events = hub.data("""{ events(first: 20) { edges { node { kind agent } } } }""")["events"]
    assert {"kind": "agent-offline", "agent": name} in [e["node"] for e in events["edges"]]
    beat(hub, name, token)  # a beat brings it back, as before
    assert hub.agent(name).online  # type: ignore[union-attr]


def test_a_fresh_store_counts_every_agent_as_seen_when_it_started(tmp_path: Path) -> None:
    """A new process (or a Redis restarted empty) has lost the beats it held: no agent is
    shown offline for that, only once the timeout has passed since the store started."""
    with serve(tmp_path, agent_timeout_seconds=TIMEOUT) as first:
        name, token = registered(first)
        beat(first, name, token)
    time.sleep(TIMEOUT + 0.5)  # the row's last beat is now older than the timeout
    from chaoshub.services import presence

    presence._memory.pop(first.runtime.settings.database_url)  # the process is gone
    with serve(tmp_path, agent_timeout_seconds=TIMEOUT) as again:
        reconcile(again)
        assert again.agent(name).online  # type: ignore[union-attr]
        time.sleep(TIMEOUT + 0.2)
        reconcile(again)
        assert not again.agent(name).online  # type: ignore[union-attr]


def test_the_production_store_keeps_beats_and_reports_in_the_brokers_redis() -> None:
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    store = RedisPresence(REDIS_TEST_URL, namespace)
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        now = time.time()
        assert store.beat("a", now, {"guards": {}, "host": {"cpus": 2}})
        assert store.beat("b", now - 3, None)
        known = store.seen(["a", "b", "c"])
        assert known is not None
        seen, since = known
        assert seen == {"a": pytest.approx(now), "b": pytest.approx(now - 3)}
        assert since == pytest.approx(now)
        assert store.reports(["a", "b", "c"]) == {
            "a": {"at": pytest.approx(now), "limits": {"guards": {}, "host": {"cpus": 2}}}
        }
        # another hub database on the same Redis sees none of it
        assert RedisPresence(REDIS_TEST_URL, namespace + "-other").reports(["a"]) == {}
    finally:
        for key in client.scan_iter(f"chaoshub:presence:{namespace}*"):
            client.delete(key)
        client.close()


def test_the_agents_query_shows_the_latest_beat_not_the_rows(hub: Hub) -> None:
    name, token = registered(hub)
    time.sleep(1.0)
    beat(hub, name, token)
    row = hub.agent(name)
    assert row is not None and row.last_heartbeat is not None
    listed = hub.data("{ agents { name lastHeartbeat } }")["agents"]
    shown = datetime.fromisoformat(next(a for a in listed if a["name"] == name)["lastHeartbeat"])
    shown = shown if shown.tzinfo else shown.replace(tzinfo=UTC)
    written = row.last_heartbeat
    written = written if written.tzinfo else written.replace(tzinfo=UTC)
    assert (shown - written).total_seconds() >= 0.9  # the row still has the registration
    assert (datetime.now(UTC) - shown).total_seconds() < 1.0
