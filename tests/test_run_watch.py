"""A worker's watch over held timed faults: one status call per backend per tick for all
the runs it holds, runs ended at their deadline and stopped at once without the
reconciler, a fault the tool dropped ends its run, and a killed worker's held runs are
taken over from what is stored.

Real processes: the API, two Celery workers and beat on the test Redis, SQLite, the
in-memory tool sharing its state through a file (so the test sees what the tool holds).
The reconciler runs only once a minute in the main stack, so whatever ends or stops a
run there is the watch, not a reconciler pass."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from chaoshub.testing.memory import MemoryAdapter
from tests.support import queries as Q
from tests.support.stack import REDIS_TEST_URL, GraphQL, Stack, wait_for

pytestmark = pytest.mark.slow


def make_stack(workdir: Path, **env: str) -> Stack:
    redis.Redis.from_url(REDIS_TEST_URL).flushdb()
    s = Stack(workdir=workdir, database_url=f"sqlite:///{workdir / 'hub.db'}")
    s.extra_env.update({"CHAOSHUB_WATCH_SECONDS": "1", **env})
    return s


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = make_stack(tmp_path_factory.mktemp("watch"), CHAOSHUB_RECONCILE_SECONDS="60")
    with s.running("w1", "w2"):
        yield s


@pytest.fixture
def gql(stack: Stack) -> Iterator[GraphQL]:
    client = GraphQL(stack.url)
    yield client
    client(Q.HALT_ALL)
    client.close()


class Tool:
    def __init__(self, gql: GraphQL, tmp_path: Path, **config: Any) -> None:
        self.name = f"mem-{uuid.uuid4().hex[:8]}"
        self.config = {
            "state_path": str(tmp_path / f"{self.name}.json"),
            "targets": [f"t{i}" for i in range(8)],
            **config,
        }
        made = gql(
            Q.CREATE_BACKEND, input={"name": self.name, "adapter": "memory", "config": self.config}
        )
        assert made["createBackend"]["__typename"] == "Backend", made
        self.adapter = MemoryAdapter(self.config, backend=self.name)

    def state(self) -> dict[str, Any]:
        return self.adapter.snapshot()


def start(gql: GraphQL, tool: Tool, target: str, duration: float) -> str:
    result = gql(
        Q.START_RUN,
        input={
            "faultType": "memory/latency",
            "backend": tool.name,
            "params": {"latency_ms": 5},
            "selector": {"names": [target]},
            "durationSeconds": duration,
        },
    )["startRun"]
    assert result["__typename"] == "Run", result
    return str(result["id"])


def phase(gql: GraphQL, run_id: str) -> str:
    return str(gql(Q.RUN, id=run_id)["run"]["phase"])


def wait_phase(gql: GraphQL, run_id: str, *phases: str, timeout: float = 30) -> dict[str, Any]:
    return wait_for(
        lambda: (r := gql(Q.RUN, id=run_id)["run"])["phase"] in phases and r,
        timeout,
        what=f"{run_id} in {phases}",
    )


def holders(stack: Stack, ids: list[str]) -> dict[str, str | None]:
    path = stack.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        marks = ",".join("?" * len(ids))
        rows = db.execute(f"SELECT id, worker FROM runs WHERE id IN ({marks})", ids).fetchall()
    return dict(rows)


def test_held_runs_are_asked_about_in_one_call_per_backend_per_tick(
    stack: Stack, gql: GraphQL, tmp_path: Path
) -> None:
    tool = Tool(gql, tmp_path)
    ids = [start(gql, tool, f"t{i}", 300) for i in range(6)]
    for run_id in ids:
        wait_phase(gql, run_id, "running")
    # every run is held by a worker's watch, which renews its lease
    held = wait_for(
        lambda: (
            (h := holders(stack, ids))
            and all((w or "").endswith(":watch") for w in h.values())
            and h
        ),
        20,
        what="the runs held by a watch",
    )
    watches = set(held.values())
    assert 1 <= len(watches) <= 2
    seen = len(tool.state().get("status_batches", []))
    time.sleep(4)  # about four ticks at CHAOSHUB_WATCH_SECONDS=1
    batches = tool.state()["status_batches"][seen:]
    assert batches, "the watch asked the tool"
    # one call per watch per tick covers all the runs that watch holds: never one per run
    per_watch = {w: sum(1 for x in held.values() if x == w) for w in watches}
    assert set(batches) <= set(per_watch.values()), (batches, per_watch)
    assert len(batches) <= 2 * 6 * len(watches), batches
    assert sum(batches) >= 6
    for run_id in ids:
        assert gql(Q.ABORT, id=run_id)["abortRun"]["desiredState"] == "stop"
    for run_id in ids:
        wait_phase(gql, run_id, "aborted")
    assert tool.state()["active"] == {}


def test_a_held_run_ends_at_its_deadline_without_a_reconciler_pass(
    gql: GraphQL, tmp_path: Path
) -> None:
    tool = Tool(gql, tmp_path)
    run_id = start(gql, tool, "t0", 2)
    wait_phase(gql, run_id, "running")
    done = wait_phase(gql, run_id, "completed", timeout=30)
    assert [e["reason"] for e in done["events"] if e["toPhase"] == "recovering"] == [
        "duration elapsed"
    ]
    assert tool.state()["active"] == {}
    assert tool.state()["applied"] == {f"{run_id}-0": 1}


def test_held_runs_stop_at_once_whichever_worker_gets_the_stop(
    gql: GraphQL, tmp_path: Path
) -> None:
    tool = Tool(gql, tmp_path)
    ids = [start(gql, tool, f"t{i}", 300) for i in range(6)]
    for run_id in ids:
        wait_phase(gql, run_id, "running")
    for run_id in ids:
        gql(Q.ABORT, id=run_id)
    for run_id in ids:
        done = wait_phase(gql, run_id, "aborted", timeout=30)
        assert done["targets"][0]["phase"] == "recovered"
    assert tool.state()["active"] == {}


def test_a_fault_the_tool_dropped_ends_its_held_run_failed(gql: GraphQL, tmp_path: Path) -> None:
    tool = Tool(gql, tmp_path)
    run_id = start(gql, tool, "t0", 300)
    wait_phase(gql, run_id, "running")
    with tool.adapter._state() as state:  # the fault reverted behind the hub's back
        state["active"].clear()
    done = wait_phase(gql, run_id, "failed", timeout=30)
    assert "no longer holds the fault" in done["error"]
