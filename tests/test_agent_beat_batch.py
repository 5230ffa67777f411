"""Ordinary heartbeats are kept in Redis together, one pipelined write for the beats that
arrive while the previous one is under way (chaoshub.api.beat_path), and a beat is
answered only once the write holding it has returned: over real HTTP, with the broker's
real Redis keeping presence, on SQLite and PostgreSQL. The offline pass is the real
reconciler's, called by the test."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from chaoshub.api import beats
from chaoshub.execution import reconciler
from chaoshub.store import db
from tests.support.api_server import Hub, serve
from tests.support.stack import REDIS_TEST_URL, free_port, wait_for

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
#: the offline timeout of these hubs: short, so a false "offline" would show within the test
TIMEOUT = 3.0


@pytest.fixture(params=["sqlite", "postgresql"])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    settings: dict[str, Any] = {"broker_url": REDIS_TEST_URL, "agent_timeout_seconds": TIMEOUT}
    if request.param == "sqlite":
        with serve(tmp_path, **settings) as h:
            try:
                yield h
            finally:
                forget_presence(h)
        return
    name = f"chaoshub_test_{uuid.uuid4().hex[:10]}"
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with serve(tmp_path, database_url=url, **settings) as h:
            try:
                yield h
            finally:
                forget_presence(h)
                db.engine_for(url).dispose()
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def forget_presence(hub: Hub) -> None:
    prefix = hub.runtime.presence._seen_key.rsplit(":", 1)[0]
    client = redis.Redis.from_url(REDIS_TEST_URL)
    mine = list(client.scan_iter(f"{prefix}:*"))
    if mine:
        client.delete(*mine)


def fleet(hub: Hub, size: int) -> list[tuple[str, str]]:
    """``size`` registered agents, each with a first beat answered (the cache filled)."""
    agents = []
    for _ in range(size):
        name = f"batch-{uuid.uuid4().hex[:6]}"
        token, _ = hub.token(agent_name=name)
        assert hub.register(token, name).status_code == 200
        assert beat_once(hub, name, token).status_code == 200
        agents.append((name, token))
    return agents


def beat_once(hub: Hub, name: str, token: str) -> httpx.Response:
    return hub.post("/agents/heartbeat", {"name": name, "active": []}, token)


async def beat_together(
    hub: Hub, agents: list[tuple[str, str]], answered: Callable[[str, float], None]
) -> None:
    """One beat of every agent at once; ``answered(name, sent_at)`` as each 200 arrives."""
    limits = {"guards": {"max_stressors": 4}, "host": {"cpus": 2}}
    async with httpx.AsyncClient(base_url=hub.url, timeout=30) as client:

        async def one(name: str, token: str) -> None:
            sent_at = time.time()
            answer = await client.post(
                "/agents/heartbeat",
                json={"name": name, "active": [], "limits": limits},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 200, answer.text
            answered(name, sent_at)

        await asyncio.gather(*(one(n, t) for n, t in agents))


def counting_lookups(hub: Hub) -> tuple[list[str], Callable[[], None]]:
    from sqlalchemy import event

    """The statements a beat going the database's way runs (not the cache's refresh)."""
    found: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        text = " ".join(statement.split()).lower()
        looked_up = "api_tokens.token_hash =" in text or "agents.name =" in text
        if looked_up or text.startswith(("update agents", "insert")):
            found.append(text)

    engine = db.engine_for(hub.runtime.settings.database_url)
    event.listen(engine, "before_cursor_execute", record)
    return found, lambda: event.remove(engine, "before_cursor_execute", record)


def test_a_beat_answered_is_already_in_the_presence_store(hub: Hub) -> None:
    agents = fleet(hub, 40)
    late: list[tuple[str, float, float | None]] = []

    def answered(name: str, sent_at: float) -> None:
        found = hub.runtime.presence.seen([name])
        assert found is not None
        kept = found[0].get(name)
        if kept is None or kept < sent_at:
            late.append((name, sent_at, kept))

    # the first agents' beats are older than the timeout by now: this round takes them
    # the database's way, which brings them back to the cache
    asyncio.run(beat_together(hub, agents, answered))
    statements, stop = counting_lookups(hub)
    try:
        for _ in range(3):
            asyncio.run(beat_together(hub, agents, answered))
    finally:
        stop()
    assert late == []
    assert statements == []  # all of them were ordinary: none went the database's way
    reports = hub.runtime.presence.reports([n for n, _ in agents])
    assert set(reports) == {n for n, _ in agents}


def test_no_agent_is_shown_offline_while_it_beats_and_a_silent_one_is(hub: Hub) -> None:
    agents = fleet(hub, 30)
    # every agent's last beat fresh (setting them up took longer than the timeout)
    silent_since = time.monotonic()  # before its last beat: the hub's record is no earlier
    asyncio.run(beat_together(hub, agents, lambda *_: None))
    silent_name, _ = agents.pop()
    stop = threading.Event()
    offline: list[tuple[str, float]] = []

    def offline_pass() -> None:  # the reconciler's pass, as often as it can run
        while not stop.is_set():
            reconciler.reconcile(hub.runtime, lambda *a: None)
            with hub.runtime.session() as s:
                from chaoshub.store.models import Agent

                for row in s.query(Agent).filter(Agent.online.is_(False)):
                    offline.append((row.name, time.monotonic() - silent_since))
            time.sleep(0.05)

    passes = threading.Thread(target=offline_pass, daemon=True)
    passes.start()
    try:
        deadline = time.monotonic() + 2 * TIMEOUT + 1
        while time.monotonic() < deadline and not offline:
            asyncio.run(beat_together(hub, agents, lambda *_: None))
            time.sleep(0.3)
    finally:
        stop.set()
        passes.join(timeout=30)
    beating = {n for n, _ in agents}
    assert [o for o in offline if o[0] in beating] == []
    went = [after for name, after in offline if name == silent_name]
    assert went and went[0] >= TIMEOUT, offline  # and not before its timeout


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Callable[[bool], None]]:
    """A Redis of the test's own on a free port, and a switch to stop and start it again."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def switch(on: bool) -> None:
        if on:
            procs.append(
                subprocess.Popen(
                    [server, "--port", str(port), "--save", "", "--appendonly", "no"],
                    cwd=tmp_path,
                    stdout=subprocess.DEVNULL,
                )
            )
            wait_for(lambda: redis.Redis(port=port).ping(), 10, what="the test's Redis")
        else:
            procs[-1].terminate()
            procs[-1].wait(10)

    switch(True)
    switch.url = f"redis://127.0.0.1:{port}/0"  # type: ignore[attr-defined]
    try:
        yield switch
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)


def test_a_redis_lost_midway_sends_beats_to_the_rows_and_back_once_it_returns(
    tmp_path: Path, own_redis: Any
) -> None:
    with serve(tmp_path, broker_url=own_redis.url, bus_url="local") as hub:
        [(name, token)] = fleet(hub, 1)
        statements, stop = counting_lookups(hub)
        try:
            assert beat_once(hub, name, token).status_code == 200
        finally:
            stop()
        assert statements == []  # kept in Redis alone

        own_redis(False)
        before = hub.agent(name).last_heartbeat  # type: ignore[union-attr]
        answer = beat_once(hub, name, token)
        assert answer.status_code == 200, answer.text
        row = hub.agent(name)
        assert row is not None and row.online and row.last_heartbeat != before  # the row

        own_redis(True)

        def kept_in_redis_alone() -> bool:
            statements, stop = counting_lookups(hub)
            try:
                assert beat_once(hub, name, token).status_code == 200
            finally:
                stop()
            return statements == []

        deadline = time.monotonic() + 6 * beats.STORE_PAUSE_SECONDS
        while not kept_in_redis_alone():
            assert time.monotonic() < deadline, "beats never went back to Redis alone"
            time.sleep(0.2)
        found = hub.runtime.presence.seen([name])
        assert found is not None and name in found[0]
