"""Ordinary heartbeats are answered from the API process's cache (chaoshub.api.beats), over
real HTTP, on SQLite (embedded shape: memory presence) and PostgreSQL (production shape:
the broker's Redis keeps presence): no token or agent lookup per beat, yet a revoked token
is refused on its next beat, at once on the bus's notice, and a change made with no notice
(a role, an agent marked offline) is seen within the cache's refresh."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from sqlalchemy import event

from chaoshub.api import beats
from chaoshub.api.ws import TOKEN_CHANGED
from chaoshub.services import auth
from chaoshub.store import db, models
from tests.support.api_server import REVOKE, Hub, serve
from tests.support.stack import REDIS_TEST_URL, free_port

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
#: generous: the cache re-reads its entries every REFRESH_SECONDS, on a loaded machine
SEEN_WITHIN = 6 * beats.REFRESH_SECONDS


@pytest.fixture(params=["sqlite", "postgresql"])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    if request.param == "sqlite":
        with serve(tmp_path) as h:
            yield h
        return
    name = f"chaoshub_test_{uuid.uuid4().hex[:10]}"
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with serve(tmp_path, database_url=url, broker_url=REDIS_TEST_URL) as h:
            try:
                yield h
            finally:
                client = redis.Redis.from_url(REDIS_TEST_URL)
                keys = list(client.scan_iter("chaoshub:presence:*"))
                mine = [k for k in keys if h.runtime.presence._seen_key.rsplit(":", 1)[0] in str(k)]
                if mine:
                    client.delete(*mine)
                db.engine_for(url).dispose()
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def registered(hub: Hub) -> tuple[str, str, str]:
    name = f"edge-{uuid.uuid4().hex[:6]}"
    token, token_id = hub.token(agent_name=name)
    answer = hub.register(token, name)
    assert answer.status_code == 200, answer.text
    return name, token, token_id


def beat(hub: Hub, name: str, token: str, **extra: Any) -> Any:
    return hub.post("/agents/heartbeat", {"name": name, "active": [], **extra}, token)


def until(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        time.sleep(0.1)


def lookups(hub: Hub) -> Any:
    """Counts the statements that look up one token or one agent (what a beat used to run)."""
    found: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        text = " ".join(statement.split()).lower()
        looked_up = "api_tokens.token_hash =" in text or "agents.name =" in text
        if looked_up or text.startswith(("update agents", "insert")):
            found.append(text)

    engine = db.engine_for(hub.runtime.settings.database_url)
    event.listen(engine, "before_cursor_execute", record)
    return found, lambda: event.remove(engine, "before_cursor_execute", record)


def test_an_ordinary_beat_looks_nothing_up_and_writes_nothing(hub: Hub) -> None:
    name, token, _ = registered(hub)
    assert beat(hub, name, token).status_code == 200  # the first beat fills the cache
    found, stop = lookups(hub)
    try:
        for _ in range(30):
            answer = beat(hub, name, token)
            assert answer.status_code == 200, answer.text
            assert answer.json()["agent"] == name and answer.json()["heartbeat_seconds"] > 0
    finally:
        stop()
    assert found == []
    seen = hub.runtime.presence.seen([name])
    assert seen is not None and time.time() - seen[0][name] < 30  # the beat was kept

    # a beat that changes something still goes to the database and writes the row
    found, stop = lookups(hub)
    try:
        changed = beat(hub, name, token, capabilities={"faults": ["process-pause"]})
    finally:
        stop()
    assert changed.status_code == 200, changed.text
    assert any(s.startswith("update agents") for s in found)
    assert hub.agent(name).capabilities == {"faults": ["process-pause"]}  # type: ignore[union-attr]
    audited = [e for e in hub.audit("agentHeartbeat") if e["subject"] == name]
    assert [e["message"] for e in audited] == ["capabilities changed"]


def test_a_revoked_agent_token_is_refused_on_its_next_beat(hub: Hub) -> None:
    name, token, token_id = registered(hub)
    for _ in range(3):
        assert beat(hub, name, token).status_code == 200
    hub.data(REVOKE, id=token_id)
    refused = beat(hub, name, token)
    assert refused.status_code == 401, refused.text
    assert "revoked" in refused.json()["title"]
    assert any(
        e["subject"] == name and e["result"] == "UNAUTHENTICATED"
        for e in hub.audit("agentHeartbeat")
    )


def test_a_token_revoked_by_another_process_is_refused_on_the_notice(hub: Hub) -> None:
    name, token, token_id = registered(hub)
    for _ in range(3):
        assert beat(hub, name, token).status_code == 200
    with hub.runtime.session() as s:  # what another API process's revokeApiToken does
        auth.revoke_token(s, token_id)
    hub.runtime.bus.publish({"kind": TOKEN_CHANGED, "token_id": token_id})
    until(lambda: beat(hub, name, token).status_code == 401, 3.0, "refused on the notice")


def test_changes_made_without_a_notice_are_seen_within_the_refresh(hub: Hub) -> None:
    name, token, token_id = registered(hub)
    assert beat(hub, name, token).status_code == 200

    # the reconciler marked the agent offline: a beat brings it back, with its event
    with hub.runtime.session() as s:
        row = s.query(models.Agent).filter_by(name=name).one()
        row.online = False

    def back_online() -> bool:
        assert beat(hub, name, token).status_code == 200
        return bool(hub.agent(name).online)  # type: ignore[union-attr]

    until(back_online, SEEN_WITHIN, "the agent written back online")

    # a role changed in the database, no notice sent: refused within the refresh
    with hub.runtime.session() as s:
        token_row = s.get(models.ApiToken, token_id)
        assert token_row is not None
        token_row.role = "viewer"
    until(lambda: beat(hub, name, token).status_code == 403, SEEN_WITHIN, "the new role")


def test_beats_a_presence_store_cannot_keep_still_keep_the_agent_online(tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens: every beat is refused there
    with serve(tmp_path, broker_url=dead) as hub:
        name, token, _ = registered(hub)
        written = []
        for _ in range(3):
            answer = beat(hub, name, token)
            assert answer.status_code == 200, answer.text
            row = hub.agent(name)
            assert row is not None and row.online and row.last_heartbeat is not None
            written.append(row.last_heartbeat)
        assert written == sorted(written) and len(set(written)) == 3  # each beat wrote the row
