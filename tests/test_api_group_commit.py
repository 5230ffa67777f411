"""Starts that arrive together are written in one transaction (chaoshub.api.commits), on
PostgreSQL and SQLite: each caller still gets its own answer — its run, or its own refusal
naming the field — nothing of a refused start is stored, every start is audited, and a
transaction that fails is retried write by write, so one bad write refuses only itself."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from chaoshub.api.commits import GroupCommit
from chaoshub.api.resolvers import Outcome
from chaoshub.bus import LocalBus
from chaoshub.runtime import Runtime, run_notice
from chaoshub.services import audit, backends, runs
from chaoshub.services.auth import Actor
from chaoshub.store import db, models
from tests.support.api_server import Hub, serve
from tests.support.stack import in_process_runtime

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
START = """mutation($input: StartRunInput!) { startRun(input: $input) {
  __typename ... on Run { id } ... on Error { code field message } } }"""
CREATE_BACKEND = """mutation($input: CreateBackendInput!) { createBackend(input: $input) {
  __typename ... on Error { message } } }"""
OPERATOR = Actor(name="ops", role="operator", token_id=None)


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    name = f"chaoshub_test_{uuid.uuid4().hex[:10]}"
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url
    finally:
        db.engine_for(url).dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def hub(database: str | None, tmp_path: Path, memory_registered: Any) -> Iterator[Hub]:
    with serve(tmp_path, **({"database_url": database} if database else {})) as h:
        made = h.data(
            CREATE_BACKEND,
            input={"name": "mem", "adapter": "memory", "config": {"targets": ["a", "b", "c"]}},
        )
        assert made["createBackend"]["__typename"] == "Backend", made
        yield h


def start_input(i: int) -> tuple[dict[str, Any], list[str] | None]:
    """The ``i``-th start of a burst, and the field its refusal names (None: it is good)."""
    good = {
        "faultType": "memory/latency",
        "backend": "mem",
        "params": {"latency_ms": 10},
        "selector": {"names": ["abc"[i % 3]]},
        "durationSeconds": 600,
    }
    kind = i % 4
    if kind == 1:
        return {**good, "backend": "nowhere"}, ["backend"]
    if kind == 2:
        return {**good, "selector": {"names": ["nobody"]}}, ["selector"]
    if kind == 3:
        return {**good, "durationSeconds": -1}, ["durationSeconds"]
    return good, None


def test_starts_sent_together_each_get_their_own_answer_and_refusals_store_nothing(
    hub: Hub,
) -> None:
    burst = [start_input(i) for i in range(24)]

    def send(i: int) -> dict[str, Any]:
        answer = hub.gql(START, input=burst[i][0])
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]["startRun"]  # type: ignore[no-any-return]

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(send, range(len(burst))))

    started = []
    for (given, refused_field), answer in zip(burst, answers, strict=True):
        if refused_field is None:
            assert answer["__typename"] == "Run", answer
            started.append(answer["id"])
        else:
            assert answer["__typename"] != "Run", answer
            assert answer["field"][: len(refused_field)] == refused_field, (given, answer)
    assert len(started) == 6 and len(set(started)) == 6

    with hub.runtime.session() as s:
        stored = set(s.scalars(select(models.Run.id)))
        assert stored == set(started)  # a refused start left no run behind
        for run_id in started:
            run = runs.get(s, run_id)
            assert [t.label for t in run.targets] == [run.selector["names"][0]]
            kinds = list(s.scalars(select(models.Event.kind).where(models.Event.run_id == run_id)))
            assert kinds == ["created"]
        entries = list(
            s.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "startRun"))
        )
    assert sorted(e.subject for e in entries if e.result == "ok") == sorted(started)
    refusals = [e for e in entries if e.result != "ok"]
    assert len(refusals) == 18 and all(e.subject is None for e in refusals)


def runtime_with_backend(tmp_path: Path, database: str | None) -> Runtime:
    overrides = {"database_url": database} if database else {}
    rt = in_process_runtime(tmp_path, admin="admin-" + uuid.uuid4().hex, **overrides)
    with rt.session() as s:
        backends.create(s, "mem", "memory", {"targets": ["a", "b"]})
    return rt


def prepared_start(rt: Runtime, target: str) -> runs.PreparedStart:
    spec = runs.RunSpec("memory/latency", "mem", {"latency_ms": 5}, {"names": [target]}, 60)
    with rt.session() as s:
        return runs.prepare(rt, s, OPERATOR, spec)


def start_write(rt: Runtime, prepared: runs.PreparedStart) -> Callable[[Session], Any]:
    """What startRun hands the group commit: the run's rows, then its audit entry."""

    def write(s: Session) -> Callable[[], Outcome]:
        run = runs.store(rt, s, OPERATOR, prepared)

        def finish() -> Outcome:
            audit.write(s, OPERATOR, "startRun", subject=run.id, input={}, result="ok")
            return Outcome(
                run.id,
                subject=run.id,
                dispatches=[(run.id, run.adapter, "inject")],
                notices=[run_notice(run.id)],
            )

        return finish

    return write


def test_writes_waiting_together_share_one_transaction_and_are_sent_after_it(
    tmp_path: Path, database: str | None, memory_registered: Any
) -> None:
    rt = runtime_with_backend(tmp_path, database)
    sent: list[tuple[str, str, str]] = []
    published: list[dict[str, Any]] = []

    class Recording(LocalBus):
        def publish(self, message: dict[str, Any]) -> None:
            published.append(message)

    rt._bus = Recording()
    commits = GroupCommit(rt, lambda *a: sent.append(a))
    writes = [start_write(rt, prepared_start(rt, "ab"[i % 2])) for i in range(10)]

    async def together() -> list[Any]:
        return await asyncio.gather(*(commits.run(w) for w in writes))

    outcomes = asyncio.run(together())
    assert commits.transactions == 1 and commits.writes == 10
    ids = [o.result for o in outcomes]
    assert len(set(ids)) == 10
    assert sent == [(run_id, "memory", "inject") for run_id in ids]
    assert published == [run_notice(run_id) for run_id in ids]
    with rt.session() as s:
        assert set(s.scalars(select(models.Run.id))) == set(ids)
        audited = s.scalar(
            select(func.count())
            .select_from(models.AuditEntry)
            .where(models.AuditEntry.action == "startRun", models.AuditEntry.result == "ok")
        )
        assert audited == 10

    # one alone begins at once, in a transaction of its own
    alone = asyncio.run(commits.run(start_write(rt, prepared_start(rt, "a"))))
    assert commits.transactions == 2 and commits.writes == 11
    assert sent[-1] == (alone.result, "memory", "inject")


def test_a_write_the_database_refuses_fails_alone_and_the_others_are_stored(
    tmp_path: Path, database: str | None, memory_registered: Any
) -> None:
    rt = runtime_with_backend(tmp_path, database)
    sent: list[tuple[str, str, str]] = []
    commits = GroupCommit(rt, lambda *a: sent.append(a))
    good = [prepared_start(rt, "a") for _ in range(4)]
    bad = prepared_start(rt, "b")
    with rt.session() as s:  # the same run id twice: the database refuses the second
        first = runs.store(rt, s, OPERATOR, bad)
        taken = first.id
    writes = [start_write(rt, p) for p in good[:2]]

    def duplicate(s: Session) -> Callable[[], Outcome]:
        s.add(models.Run(**{**_columns(first), "id": taken}))
        return lambda: Outcome(taken)

    writes.append(duplicate)
    writes += [start_write(rt, p) for p in good[2:]]

    async def together() -> list[Any]:
        return await asyncio.gather(*(commits.run(w) for w in writes), return_exceptions=True)

    outcomes = asyncio.run(together())
    assert isinstance(outcomes[2], IntegrityError)
    stored_ids = [o.result for i, o in enumerate(outcomes) if i != 2]
    assert all(isinstance(o, Outcome) for i, o in enumerate(outcomes) if i != 2)
    # the group failed, then each write went alone: four stored, the duplicate refused
    assert commits.transactions == 4 and commits.writes == 4
    assert [s[0] for s in sent] == stored_ids
    with rt.session() as s:
        assert set(s.scalars(select(models.Run.id))) == {taken, *stored_ids}
        assert s.scalar(select(func.count()).select_from(models.AuditEntry)) == 4


def _columns(run: models.Run) -> dict[str, Any]:
    return {
        c.key: getattr(run, c.key)
        for c in models.Run.__table__.columns
        if c.key not in ("created_at", "updated_at")
    }


def test_a_failing_commit_is_not_tried_again_and_every_caller_of_it_is_told(
    tmp_path: Path, database: str | None, memory_registered: Any
) -> None:
    """A commit that fails may have been applied (its answer lost): writing each start
    again could store it twice, so nothing is retried and the callers get the error."""
    rt = runtime_with_backend(tmp_path, database)
    sent: list[tuple[str, str, str]] = []
    commits = GroupCommit(rt, lambda *a: sent.append(a))
    calls: list[int] = []

    def counted(write: Callable[[Session], Any]) -> Callable[[Session], Any]:
        def run(s: Session) -> Any:
            calls.append(1)
            return write(s)

        return run

    writes = [counted(start_write(rt, prepared_start(rt, "a"))) for _ in range(3)]

    def refuse(session: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("connection lost during commit"))

    event.listen(Session, "before_commit", refuse)
    try:

        async def together() -> list[Any]:
            return await asyncio.gather(*(commits.run(w) for w in writes), return_exceptions=True)

        outcomes = asyncio.run(together())
    finally:
        event.remove(Session, "before_commit", refuse)
    assert all(isinstance(o, OperationalError) for o in outcomes), outcomes
    assert len(calls) == 3  # each write once: none tried again alone
    assert sent == [] and commits.transactions == 0
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(models.Run)) == 0
