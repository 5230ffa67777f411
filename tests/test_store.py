"""The store and the run driver on SQLite and on the PostgreSQL that runs on this machine.

The driver runs in-process here (no Celery): these tests are about what is stored, the
run lease, and that every step survives a fresh session."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import inspect, select

from chaoshub.config import Settings
from chaoshub.execution.driver import RunDriver, watch_interval
from chaoshub.execution.reconciler import reconcile
from chaoshub.runtime import Runtime
from chaoshub.services import auth, backends, metric_samples
from chaoshub.services import runs as runs_svc
from chaoshub.services.auth import Actor
from chaoshub.store import db
from chaoshub.store.models import Backend, Event, Run, RunMetricSample
from chaoshub.testing.memory import MemoryAdapter
from tests.support.stack import wait_for

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
OPERATOR = Actor(name="tester", role="operator")


@pytest.fixture(params=["sqlite", "postgresql"])
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
        cleanup = None
    else:
        name = f"chaoshub_test_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"

        def cleanup() -> None:
            db.dispose_all()
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    rt = Runtime(
        Settings.from_env(data_dir=tmp_path, database_url=url, bus_url="local", run_lease_seconds=5)
    )
    rt.migrate()
    try:
        yield rt
    finally:
        if cleanup:
            cleanup()


def make_run(rt: Runtime, tmp_path: Path, **config: object) -> str:
    name = f"mem-{uuid.uuid4().hex[:6]}"
    with rt.session() as s:
        backends.create(s, name, "memory", {"state_path": str(tmp_path / f"{name}.json"), **config})
    with rt.session() as s:
        run = runs_svc.start(
            rt,
            s,
            OPERATOR,
            runs_svc.RunSpec(
                "memory/latency", name, {"latency_ms": 5}, {"names": ["alpha", "beta"]}, 60
            ),
        )
        return run.id


def phase(rt: Runtime, run_id: str) -> str:
    with rt.session() as s:
        return runs_svc.get(s, run_id).phase


def test_migrations_create_every_table_and_are_idempotent(runtime: Runtime) -> None:
    runtime.migrate()  # a second time changes nothing
    tables = set(inspect(db.engine_for(runtime.settings.database_url)).get_table_names())
    assert {
        "backends",
        "agents",
        "fault_types",
        "experiments",
        "runs",
        "run_targets",
        "events",
        "api_tokens",
        "audit_log",
        "run_metric_samples",
        "threshold_searches",
        "alembic_version",
    } <= tables


def test_a_run_is_stored_whole_with_its_targets(runtime: Runtime, tmp_path: Path) -> None:
    run_id = make_run(runtime, tmp_path)
    with runtime.session() as s:
        run = runs_svc.get(s, run_id)
        assert run.phase == "pending" and run.desired_state == "run" and run.verdict == "none"
        assert [(t.index, t.label, t.phase, t.may_carry_fault) for t in run.targets] == [
            (0, "alpha", "selected", False),
            (1, "beta", "selected", False),
        ]
        assert run.created_at.tzinfo is not None


def test_the_driver_takes_a_run_from_pending_to_running_and_abort_to_aborted(
    runtime: Runtime, tmp_path: Path
) -> None:
    run_id = make_run(runtime, tmp_path)
    RunDriver(runtime, run_id).advance()
    assert phase(runtime, run_id) == "running"
    with runtime.session() as s:
        run = runs_svc.get(s, run_id)
        assert all(
            t.phase == "injected"
            and t.may_carry_fault
            and t.handle == {"key": f"{run_id}-{t.index}"}
            for t in run.targets
        )
        assert run.deadline is not None and run.worker is None
    with runtime.session() as s:
        runs_svc.abort(s, OPERATOR, run_id)
    RunDriver(runtime, run_id).advance()
    assert phase(runtime, run_id) == "aborted"
    with runtime.session() as s:
        kinds = [
            (e.kind, e.from_phase, e.to_phase)
            for e in s.scalars(select(Event).where(Event.run_id == run_id).order_by(Event.id))
        ]
    assert [k for k in kinds if k[0] == "phase"] == [
        ("phase", "pending", "injecting"),
        ("phase", "injecting", "running"),
        ("phase", "running", "recovering"),
        ("phase", "recovering", "aborted"),
    ]


def test_only_one_worker_holds_a_run(runtime: Runtime, tmp_path: Path) -> None:
    run_id = make_run(runtime, tmp_path)
    first, second = RunDriver(runtime, run_id, worker="a"), RunDriver(runtime, run_id, worker="b")
    assert first.lease.claim()
    assert not second.lease.claim(), "the lease is held"
    assert first.lease.claim(), "the holder may renew"
    first.lease.release()
    assert second.lease.claim()
    second.lease.release()


def test_an_expired_lease_lets_another_worker_resume_and_the_reconciler_says_so(
    runtime: Runtime, tmp_path: Path
) -> None:

    run_id = make_run(runtime, tmp_path)
    with runtime.session() as s:
        run = s.get(Run, run_id)
        assert run is not None
        run.worker, run.lease_until = "dead-worker", datetime.now(UTC) - timedelta(seconds=1)
        run.updated_at = datetime.now(UTC) - timedelta(minutes=1)
    sent: list[tuple[str, str, str]] = []
    assert reconcile(runtime, lambda *a: sent.append(a)) == 1
    assert sent == [(run_id, "memory", "inject")]
    with runtime.session() as s:
        assert [e.kind for e in s.scalars(select(Event).where(Event.run_id == run_id))][
            -1
        ] == "worker-lost"
    RunDriver(runtime, run_id, worker="b").advance()
    assert phase(runtime, run_id) == "running"


def test_tokens_and_audit_round_trip(runtime: Runtime) -> None:
    with runtime.session() as s:
        row, plain = auth.create_token(s, "ci", "operator")
    with runtime.session() as s:
        actor = auth.authenticate(s, f"Bearer {plain}")
    assert (actor.name, actor.role, actor.token_id) == ("ci", "operator", row.id)


def test_a_held_fault_that_vanishes_from_the_tool_ends_the_run_failed(
    runtime: Runtime, tmp_path: Path
) -> None:
    # e.g. the injector's lease lapsed while the hub was away and it reverted the fault
    # itself: the run must not go on claiming a fault that is not there

    run_id = make_run(runtime, tmp_path)
    RunDriver(runtime, run_id).advance()
    with runtime.session() as s:
        run = runs_svc.get(s, run_id)
        tool = MemoryAdapter(s.get(Backend, run.backend_id).config, backend=run.backend_name)  # type: ignore[union-attr]
        run.next_attempt_at = None
    with tool._state() as state:  # someone removed the fault behind the hub's back
        state["active"].pop(f"{run_id}-0")
    RunDriver(runtime, run_id).advance()
    with runtime.session() as s:
        run = runs_svc.get(s, run_id)
        assert run.phase == "failed"
        assert "no longer holds the fault" in (run.targets[0].error or "")
        assert "alpha" in (run.error or "")
        assert [t.may_carry_fault for t in run.targets] == [False, False]
        kinds = [e.kind for e in s.scalars(select(Event).where(Event.run_id == run_id))]
    assert kinds.count("fault-gone") == 1
    with tool._state() as state:
        assert state["active"] == {}  # the other target was recovered by the hub


def test_a_stop_never_waits_for_a_status_call_that_hangs(runtime: Runtime, tmp_path: Path) -> None:
    """The watch's status call is stuck in the tool; an abort arriving meanwhile is acted on
    by the worker holding the run, without waiting for that call to come back."""

    hold = tmp_path / "hold-status"
    run_id = make_run(runtime, tmp_path, status_hold=str(hold))
    RunDriver(runtime, run_id).advance()
    assert phase(runtime, run_id) == "running"
    with runtime.session() as s:
        run = runs_svc.get(s, run_id)
        run.next_attempt_at = None
        tool = MemoryAdapter(s.get(Backend, run.backend_id).config, backend=run.backend_name)  # type: ignore[union-attr]
    hold.touch()
    watcher = threading.Thread(target=RunDriver(runtime, run_id, worker="watcher").advance)
    try:
        watcher.start()
        wait_for(lambda: tool.snapshot().get("status_waiting", 0) > 0, 30, what="the status call")
        with runtime.session() as s:
            runs_svc.abort(s, OPERATOR, run_id)
        # the abort's own task finds the run held and leaves it to the holder
        RunDriver(runtime, run_id, worker="abort-task").advance()
        watcher.join(timeout=60)
        assert not watcher.is_alive()
        assert hold.exists()  # the status call is still hanging in the tool
        assert phase(runtime, run_id) == "aborted"
        assert tool.snapshot()["active"] == {}
    finally:
        hold.unlink(missing_ok=True)
        watcher.join(timeout=60)


def samples(rt: Runtime, run_id: str) -> list[tuple[int, dict[str, float]]]:
    with rt.session() as s:
        return [
            (r.target_index, r.values)
            for r in metric_samples.history(s, run_id, last=metric_samples.MAX_PER_RUN)
        ]


def age_samples_and_wake(rt: Runtime, run_id: str) -> None:
    """Make the stored samples old enough to be followed, and the watch due, without waiting."""
    with rt.session() as s:
        for row in s.scalars(select(RunMetricSample).where(RunMetricSample.run_id == run_id)):
            row.at -= timedelta(seconds=60)
        runs_svc.get(s, run_id).next_attempt_at = None


def test_the_driver_keeps_a_metric_history_while_it_watches_a_run(
    runtime: Runtime, tmp_path: Path
) -> None:
    run_id = make_run(runtime, tmp_path)
    RunDriver(runtime, run_id).advance()  # injects: the tool reports latency_ms per target
    assert samples(runtime, run_id) == [(0, {"latency_ms": 5.0}), (1, {"latency_ms": 5.0})]
    age_samples_and_wake(runtime, run_id)
    RunDriver(runtime, run_id).advance()  # one watch: status reports them again
    assert phase(runtime, run_id) == "running"
    assert sorted(i for i, _ in samples(runtime, run_id)) == [0, 0, 1, 1]


def test_metric_samples_are_kept_at_most_once_per_target_every_two_seconds(
    runtime: Runtime, tmp_path: Path
) -> None:
    run_id = make_run(runtime, tmp_path)
    t0 = datetime.now(UTC)
    with runtime.session() as s:
        assert metric_samples.record(s, run_id, 0, {"x": 1}, t0) is not None
        assert metric_samples.record(s, run_id, 0, {"x": 2}, t0 + timedelta(seconds=1)) is None
        assert metric_samples.record(s, run_id, 1, {"x": 3}, t0 + timedelta(seconds=1))
        assert metric_samples.record(s, run_id, 0, {"x": 4}, t0 + timedelta(seconds=2))
        assert metric_samples.record(s, run_id, 0, {"x": float("nan"), "y": "z"}, t0) is None
    assert samples(runtime, run_id) == [(0, {"x": 1.0}), (1, {"x": 3.0}), (0, {"x": 4.0})]


def test_samples_of_a_long_run_are_spread_over_its_whole_duration() -> None:
    two = timedelta(seconds=2)
    assert metric_samples.spacing(None, 3) == two
    assert metric_samples.spacing(600, 2) == two  # 600 s x 2 targets / 2000 < 2 s
    day = metric_samples.spacing(86_400, 1)
    assert day == timedelta(seconds=86_400 / metric_samples.MAX_PER_RUN)
    assert metric_samples.spacing(86_400, 4) == 4 * day


def test_a_run_keeps_at_most_2000_metric_samples_and_its_latest_values(
    runtime: Runtime, tmp_path: Path
) -> None:
    run_id = make_run(runtime, tmp_path)
    long_ago = datetime.now(UTC) - timedelta(days=1)
    with runtime.session() as s:
        s.add_all(
            RunMetricSample(
                run_id=run_id, target_index=0, at=long_ago + timedelta(seconds=i), values={"x": i}
            )
            for i in range(metric_samples.MAX_PER_RUN)
        )
    RunDriver(runtime, run_id).advance()
    assert phase(runtime, run_id) == "running"
    assert len(samples(runtime, run_id)) == metric_samples.MAX_PER_RUN
    with runtime.session() as s:  # the targets still show what the tool reports
        assert [t.metrics for t in runs_svc.get(s, run_id).targets] == [{"latency_ms": 5}] * 2


def test_the_watch_follows_its_setting_and_never_lets_a_fault_lease_lapse(
    runtime: Runtime, tmp_path: Path
) -> None:

    assert watch_interval(5, 60) == timedelta(seconds=5)
    assert watch_interval(30, 60) == timedelta(seconds=15)  # a quarter of the lease at most
    with pytest.raises(ValueError, match="CHAOSHUB_FAULT_LEASE_SECONDS"):
        Settings.from_env(data_dir=tmp_path, fault_lease_seconds=1)
    with pytest.raises(ValueError, match="CHAOSHUB_WATCH_SECONDS"):
        Settings.from_env(data_dir=tmp_path, watch_seconds=0)

    runtime.settings = replace(runtime.settings, watch_seconds=12)
    run_id = make_run(runtime, tmp_path)
    RunDriver(runtime, run_id).advance()  # injects; the first refresh comes right after
    with runtime.session() as s:
        runs_svc.get(s, run_id).next_attempt_at = None
    RunDriver(runtime, run_id).advance()  # one refresh, which plans the next
    with runtime.session() as s:
        planned = runs_svc.get(s, run_id).next_attempt_at
    assert planned is not None
    ahead = (planned.replace(tzinfo=planned.tzinfo or UTC) - datetime.now(UTC)).total_seconds()
    assert 6 < ahead <= 12  # planned one watch interval after the refresh, not five seconds


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_agent_binding_migration_keeps_each_agent_with_the_token_that_registered_it(
    backend: str, tmp_path: Path
) -> None:
    """An existing hub upgraded: a token that registered one agent stays that agent's; one
    that registered several is left to claim one name at its next registration."""
    from alembic import command
    from sqlalchemy import text

    if backend == "sqlite":
        url, cleanup = f"sqlite:///{tmp_path / 'old.db'}", None
    else:
        name = f"chaoshub_test_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"

        def cleanup() -> None:
            db.dispose_all()
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    try:
        cfg = db.alembic_config(url)
        with db.engine_for(url).begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0005")
            for token_id, role in (("one", "agent"), ("many", "agent"), ("gone", "agent")):
                conn.execute(
                    text(
                        "INSERT INTO api_tokens (id, name, role, token_hash, prefix, created_at, "
                        "revoked_at) VALUES (:id, :id, :role, :id, 'p', :now, :revoked)"
                    ),
                    {
                        "id": token_id,
                        "role": role,
                        "now": datetime.now(UTC),
                        "revoked": datetime.now(UTC) if token_id == "gone" else None,
                    },
                )
            for agent, token_id in (("a1", "one"), ("m1", "many"), ("m2", "many"), ("g", "gone")):
                conn.execute(
                    text(
                        "INSERT INTO agents (id, name, url, labels, version, capabilities, "
                        "online, token_id, api_token, created_at) VALUES (:id, :id, 'http://h:1',"
                        " '{}', '', '{}', true, :token, '', :now)"
                    ),
                    {"id": agent, "token": token_id, "now": datetime.now(UTC)},
                )
        db.upgrade(url)
        with db.engine_for(url).begin() as conn:
            bound = dict(conn.execute(text("SELECT id, agent_name FROM api_tokens")).all())
        assert bound == {"one": "a1", "many": None, "gone": None}
    finally:
        db.dispose_all()
        if cleanup:
            cleanup()
